"""The demo app's policy (policies/demo.yaml): it loads, it maps every route that takes an
account as target, and its SQL runs against the app's tables on SQLite and PostgreSQL with
ids bound as strings (as Safe Accounts binds them)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from demo_support import ID, Login
from sqlalchemy import bindparam, text
from starlette.applications import Starlette
from starlette.routing import Route

from demo_app.actions import ACTIONS
from safe_accounts.policy import load_policy
from safe_accounts.policy.model import Action, PolicyFile
from safe_accounts.relations.adult_connections import adult_born_by

DEMO_POLICY = Path(__file__).resolve().parents[2] / "policies" / "demo.yaml"


@pytest.fixture(scope="module")
def policy() -> PolicyFile:
    # The loader merges the baseline in; the route map and queries are the demo file's own.
    return load_policy(DEMO_POLICY).policy


def mapped(policy: PolicyFile) -> dict[tuple[str, str], Action]:
    return {(str(r.method), r.path): r.action for r in policy.routes}


def as_policy_template(path: str) -> str:
    """The app's accept/reject routes are one policy route with the answer as a parameter."""
    return re.sub(r"/(accept|reject)$", "/{answer}", path)


def test_the_demo_policy_is_a_valid_policy_on_the_baseline(policy: PolicyFile) -> None:
    assert policy.extends == "baseline"
    assert policy.bands.store.source == "host"
    assert (policy.bands.store.table, policy.bands.store.birth_date_column) == (
        "accounts",
        "birth_date",
    )


@pytest.mark.parametrize("door", ["/api", "/web"])
@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.path)
def test_every_write_is_mapped_through_both_doors(policy: PolicyFile, door: str, action) -> None:  # type: ignore[no-untyped-def]
    assert ("POST", as_policy_template(door + action.path)) in mapped(policy)


def test_the_right_action_for_each_write(policy: PolicyFile) -> None:
    routes = mapped(policy)
    expected = {
        "/messages": Action.DIRECT_MESSAGE,
        "/conversations": Action.DIRECT_MESSAGE,
        "/conversations/{conversation_id:int}/participants": Action.DIRECT_MESSAGE,
        "/conversations/{conversation_id:int}/messages": Action.DIRECT_MESSAGE,
        "/friend-requests": Action.CONTACT_REQUEST,
        "/follows": Action.CONTACT_REQUEST,
        "/friend-requests/{request_id:int}/{answer}": Action.CONTACT_RESPONSE,
        "/blocks": Action.BLOCK,
        "/reports": Action.REPORT,
    }
    for path, action in expected.items():
        for door in ("/api", "/web"):
            assert routes[("POST", door + path)] is action, door + path


def test_every_list_of_people_and_the_profile_are_mapped(
    policy: PolicyFile, app: Starlette
) -> None:
    api_reads = {
        r.path
        for r in app.routes
        if isinstance(r, Route)
        and r.methods
        and "GET" in r.methods
        and r.path.startswith("/api/accounts")
    } | {"/api/search", "/api/suggestions"}
    routes = mapped(policy)
    for path in api_reads:
        expected = (
            Action.PROFILE_VIEW if path == "/api/accounts/{account_id:int}" else Action.DISCOVERY
        )
        assert routes[("GET", path)] is expected, path
    by_path = {r.path: r for r in policy.routes}
    assert by_path["/api/search"].response.items == "results[*]"
    assert set(by_path["/api/accounts/{account_id:int}"].response.redact) >= {
        "location",
        "school",
        "birthday",
    }


async def test_the_profile_fields_it_redacts_exist(api: Login, policy: PolicyFile) -> None:
    profile = (await (await api("tom")).get(f"/api/accounts/{ID['zoe']}")).json()
    route = next(r for r in policy.routes if r.action is Action.PROFILE_VIEW)
    assert set(route.response.redact) <= set(profile)


# --- the SQL, on the seeded app ---------------------------------------------------------


async def run(app: Starlette, sql: str, **params: object) -> list[str]:
    clause = text(sql)
    if "targets" in params:
        clause = clause.bindparams(bindparam("targets", expanding=True))
    async with app.state.runtime.engine.connect() as conn:
        return [row[0] for row in (await conn.execute(clause, params)).all()]


def s(*handles: str) -> list[str]:
    return [str(ID[h]) for h in handles]


async def test_connected_names_the_actors_friends_among_the_targets(
    app: Starlette, policy: PolicyFile
) -> None:
    sql = policy.relationships.connected.sql
    found = await run(app, sql, actor=str(ID["mia"]), targets=s("leo", "stranger", "sam", "zoe"))
    assert sorted(found) == sorted(s("leo", "sam"))
    assert (
        await run(app, sql, actor=str(ID["stranger"]), targets=s("mia", "leo", "ava", "zoe")) == []
    )


async def test_mutual_count_counts_shared_friends(app: Starlette, policy: PolicyFile) -> None:
    sql = policy.relationships.mutual_count.sql
    assert await run(app, sql, actor=str(ID["dan"]), target=str(ID["ms_khan"])) == [2]  # Sam, Priya
    assert await run(app, sql, actor=str(ID["stranger"]), target=str(ID["mia"])) == [0]


async def test_conversation_participants_are_the_others_in_it(
    api: Login, app: Starlette, policy: PolicyFile
) -> None:
    sam = await api("sam")
    family = next(
        c for c in (await sam.get("/api/conversations")).json()["results"] if c["kind"] == "group"
    )
    sql = policy.queries["conversation_participants"].sql
    found = await run(app, sql, conversation_id=str(family["id"]), actor=str(ID["sam"]))
    assert sorted(found) == sorted(s("mia", "leo"))


async def test_the_sender_of_a_request_only_for_its_recipient(
    api: Login, app: Starlette, policy: PolicyFile
) -> None:
    request = (
        await (await api("stranger")).post("/api/friend-requests", json={"to": ID["leo"]})
    ).json()
    sql = policy.queries["friend_request_sender"].sql
    assert await run(app, sql, request_id=str(request["id"]), actor=str(ID["leo"])) == s("stranger")
    assert await run(app, sql, request_id=str(request["id"]), actor=str(ID["mia"])) == []


async def test_adult_connections_is_the_share_of_adults_among_the_friends(
    app: Starlette, policy: PolicyFile
) -> None:
    assert policy.relationships.adult_connections is not None
    sql = policy.relationships.adult_connections.sql
    born_by = adult_born_by(date.today()).isoformat()  # seeded ages are 100 days inside the year
    share = {h: await run(app, sql, account=str(ID[h]), adult_born_by=born_by) for h in ("mia", "leo", "priya")}
    # Mia: Leo, Ava, her dad and her teacher; Leo: Zoe besides; Priya: three adults.
    assert share == {"mia": [50], "leo": [40], "priya": [100]}
    # The stranger has one friend: too few to say.
    assert await run(app, sql, account=str(ID["stranger"]), adult_born_by=born_by) == [None]
