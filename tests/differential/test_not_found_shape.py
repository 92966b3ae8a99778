"""Class 4 of issue 13, hidden looks different from absent: a stranger who asks for an
under-13's profile must get exactly what they get for an id that was never an account -
the same status, headers and bytes - or the difference tells them which ids are children.

Each app answers "not found" its own way (Mesh, FastAPI: `404 {"detail":"User not found"}`;
Clubs: `404 {"error":"no such person"}`); its policy says so in the route's `not_found:`
block, as `safe-accounts policy not-found` proposes it. Both answers are taken through the
wrapped app: that is all the stranger ever sees.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from .apps import clubs, mesh
from .conftest import open_subject
from .harness import Raw, Reply, Subject, call

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

MESH_NOT_FOUND = mesh.POLICY.replace(
    "    response: {id: id, redact: [city, school, friends], lists: [\"friends[*]\"]}\n",
    "    response: {id: id, redact: [city, school, friends], lists: [\"friends[*]\"]}\n"
    "    not_found: {status: 404, content_type: application/json, body: '{\"detail\":\"User not found\"}'}\n",
)
CLUBS_NOT_FOUND = clubs.POLICY.replace(
    "    response: {id: handle, redact: [town, school]}\n",
    "    response: {id: handle, redact: [town, school]}\n"
    "    not_found: {status: 404, content_type: application/json, body: '{\"error\":\"no such person\"}'}\n",
)


@pytest.fixture
async def mesh_hiding(tmp_path: Path, migrated: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Subject]:
    assert MESH_NOT_FOUND != mesh.POLICY
    monkeypatch.setenv(mesh.KEY_ENV, mesh.KEY)
    subject, middleware = await open_subject("mesh", tmp_path, migrated, mesh.Mesh, mesh, policy=MESH_NOT_FOUND)
    yield subject
    await middleware.close()
    subject.tables.close()


@pytest.fixture
async def clubs_hiding(tmp_path: Path, migrated: Path) -> AsyncIterator[Subject]:
    assert CLUBS_NOT_FOUND != clubs.POLICY
    subject, middleware = await open_subject("clubs", tmp_path, migrated, clubs.Clubs, clubs, policy=CLUBS_NOT_FOUND)
    yield subject
    await middleware.close()
    subject.tables.close()


def seen(reply: Reply) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """All the stranger can tell two answers apart by."""
    return reply.status, [(k.lower(), v) for k, v in reply.headers], reply.body


# Ways to write an id that FastAPI's `user_id: int` reads the same, applied alike to both ids.
SHAPES = ["{}", "0{}", "00{}", "%2B{}", "{}.0", "%20{}"]
ABSENT = ["99999", "37", "35", "700"]


@SETTINGS
@given(shape=st.sampled_from(SHAPES), absent=st.sampled_from(ABSENT), viewer=st.sampled_from([mesh.STRANGER, None]))
@example(shape="{}", absent="99999", viewer=mesh.STRANGER)
async def test_a_hidden_childs_profile_answers_what_a_fastapi_app_answers_for_no_one(
    mesh_hiding: Subject, shape: str, absent: str, viewer: str | None
) -> None:
    identity = (mesh.bearer(viewer),) if viewer is not None else ()
    bare_absent = await call(mesh_hiding.bare, Raw("GET", f"/api/v1/users/{shape.format(absent)}", headers=identity))
    assert bare_absent.status == 404, "the app's own answer for no one"
    hidden = await call(mesh_hiding.wrapped, Raw("GET", f"/api/v1/users/{shape.format(mesh.PUPIL)}", headers=identity))
    nobody = await call(mesh_hiding.wrapped, Raw("GET", f"/api/v1/users/{shape.format(absent)}", headers=identity))
    assert seen(hidden) == seen(nobody), f"hidden {seen(hidden)} != absent {seen(nobody)}"
    assert hidden.body == bare_absent.body


@pytest.mark.parametrize("absent", ["nobody.here", "eli.kidd", "ELI.KID"])
async def test_a_hidden_childs_profile_answers_what_clubs_answers_for_no_one(
    clubs_hiding: Subject, absent: str
) -> None:
    identity = (clubs.signed_in(clubs.STRANGER),)
    hidden = await call(clubs_hiding.wrapped, Raw("GET", f"/people/{clubs.PUPIL}", headers=identity))
    nobody = await call(clubs_hiding.wrapped, Raw("GET", f"/people/{absent}", headers=identity))
    assert nobody.status == 404, "the app's own answer for no one"
    assert seen(hidden) == seen(nobody), f"hidden {seen(hidden)} != absent {seen(nobody)}"


async def test_the_teacher_still_sees_the_pupil_the_stranger_cannot_tell_from_no_one(mesh_hiding: Subject) -> None:
    reply = await call(
        mesh_hiding.wrapped, Raw("GET", f"/api/v1/users/{mesh.PUPIL}", headers=(mesh.bearer(mesh.TEACHER),))
    )
    assert reply.status == 200 and reply.document()["id"] == int(mesh.PUPIL)
