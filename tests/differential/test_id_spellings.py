"""Class 3 of issue 13, one account and many spellings: Mesh (FastAPI) reads `07001`, `+7001`,
`7001.0`, ` 7001`, `7_001` and a JSON `7001.0` as its account 7001, in a body (`to: int`,
`members: list[int]`) and in a path (`user_id: int`).

So must the middleware: whatever spelling pydantic reads as a child, a stranger reaches
no child (judged by the app's tables) and reads no child's hidden or private profile
(judged by the bytes). And what it records is per account, as the host stores it: one
refused DM is one decision row naming `7001`, one child tried three ways is one child for
the grooming counts, and ids that are no account at all are no children to count.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from safe_accounts.decisions.table import decision_log

from .apps import mesh
from .harness import Raw, Subject, header, leaks
from .spellings import int_spellings, path_int_spellings

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
JSON = header("content-type", "application/json")
CHILDREN = [int(p.id) for p in mesh.PEOPLE.values() if p.minor]
# Contact requests are refused only with no friend in common; Nia (7001) shares one with the stranger.
NO_FRIEND_IN_COMMON = [36, 512, 77]


@st.composite
def spelled_attack(draw: st.DrawFn) -> Raw:
    route = draw(st.sampled_from(["message", "new-group", "add-members", "friend-request"]))
    child = draw(st.sampled_from(NO_FRIEND_IN_COMMON if route == "friend-request" else CHILDREN))
    spelling = draw(int_spellings(child))
    if route == "message":
        path, body = "/api/v1/messages", f'{{"to": {spelling}, "text": "hi"}}'
    elif route == "friend-request":
        path, body = "/api/v1/friend-requests", f'{{"to": {spelling}}}'
    else:
        path = "/api/v1/groups" if route == "new-group" else f"/api/v1/groups/{mesh.BOOK_CLUB}/members"
        others = draw(st.sampled_from(["", f"{mesh.ADULT_FRIEND}, "]))
        body = f'{{"name": "games", "members": [{others}{spelling}]}}'
    return Raw("POST", path, headers=(mesh.bearer(mesh.STRANGER), JSON), body=(body.encode(),))


def post(path: str, body: str) -> Raw:
    return Raw("POST", path, headers=(mesh.bearer(mesh.STRANGER), JSON), body=(body.encode(),))


@SETTINGS
@given(raw=spelled_attack())
@example(raw=post("/api/v1/messages", '{"to": "07001"}'))
@example(raw=post("/api/v1/messages", '{"to": 36.0}'))
@example(raw=post("/api/v1/messages", '{"to": " +512"}'))
@example(raw=post("/api/v1/groups", '{"name": "x", "members": [10, "7_001"]}'))
@example(raw=post("/api/v1/friend-requests", '{"to": "36.000"}'))
async def test_no_spelling_of_a_childs_id_lets_a_stranger_reach_them(mesh_app: Subject, raw: Raw) -> None:
    pair = await mesh_app.both(raw)
    reached = mesh_app.stranger_contact(pair.bare_truth, mesh.STRANGER)
    assert reached, f"the bare app did not read this as a child: {pair.bare.status} {pair.bare.text()[:200]}"
    contact = mesh_app.stranger_contact(pair.wrapped_truth, mesh.STRANGER)
    assert not contact, f"{raw.body[0]!r} reached {sorted(contact)}: {pair.wrapped.status} {pair.wrapped.text()[:200]}"


def forbidden_in_profile(subject: Subject, user: str) -> set[str]:
    person = subject.people[user]
    return set(person.private) | ({person.name} if person.band == "under_13" else set())


@st.composite
def spelled_profile(draw: st.DrawFn) -> tuple[str, str]:
    user = draw(st.sampled_from([str(c) for c in CHILDREN]))
    return user, draw(path_int_spellings(int(user)))


@SETTINGS
@given(spelled=spelled_profile())
@example(spelled=("36", "36.0"))
@example(spelled=("36", "036"))
@example(spelled=("7001", "%2B7001"))
@example(spelled=("512", "%20512"))
@example(spelled=("77", "7_7"))
async def test_no_spelling_of_a_childs_id_shows_a_stranger_their_profile(
    mesh_app: Subject, spelled: tuple[str, str]
) -> None:
    user, spelling = spelled
    raw = Raw("GET", f"/api/v1/users/{spelling}", headers=(mesh.bearer(mesh.STRANGER),))
    pair = await mesh_app.both(raw)
    forbidden = forbidden_in_profile(mesh_app, user)
    assert leaks(pair.bare, forbidden), f"the bare app did not serve {user}'s profile: {pair.bare.status}"
    event(f"a {mesh_app.people[user].band} profile")
    leaked = leaks(pair.wrapped, forbidden)
    assert not leaked, f"/api/v1/users/{spelling} showed {sorted(leaked)} ({pair.wrapped.status})"


@SETTINGS
@given(spelling=path_int_spellings(int(mesh.ADULT_FRIEND)))
@example(spelling="010")
async def test_no_spelling_of_an_adults_id_shows_a_stranger_the_children_among_their_friends(
    mesh_app: Subject, spelling: str
) -> None:
    pair = await mesh_app.both(Raw("GET", f"/api/v1/users/{spelling}/friends", headers=(mesh.bearer(mesh.STRANGER),)))
    names = {p.name for p in mesh_app.minors()}
    assert leaks(pair.bare, names)
    assert pair.wrapped.status == 200 and not leaks(pair.wrapped, names), pair.wrapped.text()


# --- what is recorded: once per account, as the host stores it ----------------------------------------


async def decisions(subject: Subject) -> list[dict[str, Any]]:
    middleware = subject.wrapped
    await middleware.runtime.decisions.flush()
    async with middleware.engine.connect() as conn:
        rows = (await conn.execute(select(decision_log))).mappings().all()
    return [dict(r) for r in rows]


@pytest.mark.parametrize("spelling", ['"07001"', '"+7001"', '" 7001"', '"7001.0"', "7001.0", '"7_001"', "70010e-1"])
async def test_a_refused_dm_to_a_child_spelled_oddly_is_one_decision_about_that_child(
    mesh_app: Subject, spelling: str
) -> None:
    reply, _ = await mesh_app.wrapped_only(post("/api/v1/messages", f'{{"to": {spelling}, "text": "hi"}}'))
    assert reply.status == 403, reply.text()
    rows = await decisions(mesh_app)
    assert [(r["route"], r["outcome"], r["target_id"]) for r in rows] == [("message", "deny", mesh.CHILD)]


async def alerts_raised(subject: Subject) -> list[tuple[str, str]]:
    alerts = subject.wrapped.runtime.alerts
    await alerts.recorder.flush()
    return [(a.subject, a.signal) for a in await alerts.service.list()]


async def test_three_different_children_refused_are_an_alert(mesh_app: Subject) -> None:
    # The control for the next two: three children is what the signal counts.
    for child in ("7001", "36", "512"):
        reply, _ = await mesh_app.wrapped_only(post("/api/v1/messages", f'{{"to": {child}}}'))
        assert reply.status == 403
    assert await alerts_raised(mesh_app) == [(mesh.STRANGER, "denied-dms-to-minors")]


async def test_one_child_tried_three_ways_is_one_child_to_the_grooming_counts(mesh_app: Subject) -> None:
    for spelling in ('"7001"', '"07001"', "7001.0"):
        reply, _ = await mesh_app.wrapped_only(post("/api/v1/messages", f'{{"to": {spelling}}}'))
        assert reply.status == 403
    assert await alerts_raised(mesh_app) == []


async def test_an_adult_who_mistypes_ids_is_not_counted_as_reaching_children(mesh_app: Subject) -> None:
    # No such users: the app answers 404 itself; none of them is a child to count.
    for typo in ("99991", "99992", "99993"):
        await mesh_app.wrapped_only(post("/api/v1/messages", f'{{"to": {typo}}}'))
    assert await alerts_raised(mesh_app) == []
