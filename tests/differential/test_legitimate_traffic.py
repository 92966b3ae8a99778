"""Zero legitimate traffic lost: adults reaching adults, and parents and teachers reaching the
children they are connected with, do through the wrapped app exactly what they do through
the bare app - the same status, the same rows in the app's tables - and see every account
and field they may see. Fixed examples, written as real clients write them (Hypothesis
writes the attacks, in the other files).
"""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from .apps import chirp, clubs, mesh
from .harness import Raw, Subject, header, json_body

JSON = header("content-type", "application/json")


async def assert_same_effect(subject: Subject, raw: Raw) -> None:
    pair = await subject.both(raw)
    assert pair.bare.status < 300, f"the bare app refused the example itself: {pair.bare.status} {pair.bare.text()}"
    assert pair.bare_truth != subject.tables.seed_truth(), "the example changes nothing in the app"
    assert (pair.wrapped.status, pair.wrapped_truth) == (pair.bare.status, pair.bare_truth), pair.wrapped.text()


def allowed_items(subject: Subject, viewer: str | None, items: list[dict[str, Any]], key: str) -> list[Any]:
    """The items of a list a viewer may see: adults, and minors connected with the viewer."""
    return [
        i for i in items
        if not subject.people[str(i[key])].minor or (viewer is not None and subject.connected(viewer, str(i[key])))
    ]


# --- Chirp (compression inside the app) ---------------------------------------------------------

CHIRP_WRITES = [
    ("an adult messages an adult", chirp.ADULT_FRIEND, "/api/messages", chirp.STRANGER),
    ("a parent messages their child", chirp.PARENT, "/api/messages", chirp.CHILD),
    ("a teacher messages a connected pupil", chirp.TEACHER, "/api/messages", chirp.PUPIL),
    ("an adult asks to follow an adult", chirp.STRANGER, "/api/follow-requests", chirp.PARENT),
    ("a parent asks to follow their child", chirp.PARENT, "/api/follow-requests", chirp.CHILD),
]


@pytest.mark.parametrize(("case", "sender", "path", "to"), CHIRP_WRITES, ids=[c[0] for c in CHIRP_WRITES])
async def test_chirp_writes_between_adults_and_connected_families_are_untouched(
    chirp_app: Subject, case: str, sender: str, path: str, to: str
) -> None:
    raw = Raw("POST", path, headers=(chirp.session(sender), JSON, header("accept-encoding", "gzip")),
              body=(json_body({"to": to, "text": "see you at 5"}),))
    await assert_same_effect(chirp_app, raw)


CHIRP_LISTS = [
    ("/api/search", "", "results"),
    ("/api/suggestions", "", "suggested"),
    ("/api/users/ann_adult/followers", "", "followers"),
    ("/api/users/pat_parent/followers", "", "followers"),
]


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "identity"])
@pytest.mark.parametrize(("path", "query", "key"), CHIRP_LISTS)
async def test_a_parent_sees_every_adult_and_their_own_child_in_chirps_lists(
    chirp_app: Subject, encoding: str, path: str, query: str, key: str
) -> None:
    raw = Raw("GET", path, query, headers=(chirp.session(chirp.PARENT), header("accept-encoding", encoding)))
    pair = await chirp_app.both(raw)
    assert pair.wrapped.status == pair.bare.status == 200
    seen = pair.wrapped.document()[key]
    assert seen == allowed_items(chirp_app, chirp.PARENT, pair.bare.document()[key], "handle")


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_parent_reads_their_childs_whole_profile(chirp_app: Subject, encoding: str) -> None:
    raw = Raw(
        "GET", f"/api/users/{chirp.CHILD}", headers=(chirp.session(chirp.PARENT), header("accept-encoding", encoding))
    )
    pair = await chirp_app.both(raw)
    assert pair.wrapped.status == 200
    mine, theirs = pair.wrapped.document(), pair.bare.document()
    assert {k: v for k, v in mine.items() if k != "followers"} == {k: v for k, v in theirs.items() if k != "followers"}
    assert mine["followers"] == allowed_items(chirp_app, chirp.PARENT, theirs["followers"], "handle")


# --- Mesh (FastAPI, int ids) -------------------------------------------------------------------

MESH_WRITES = [
    ("an adult messages an adult", mesh.STRANGER, "/api/v1/messages", {"to": 10, "text": "hi"}),
    ("a parent messages their child", mesh.PARENT, "/api/v1/messages", {"to": 7001, "text": "hi"}),
    ("a teacher messages a connected pupil", mesh.TEACHER, "/api/v1/messages", {"to": 36}),
    (
        "a parent starts a group with their child and an adult",
        mesh.PARENT,
        "/api/v1/groups",
        {"name": "trip", "members": [7001, 10]},
    ),
    ("a teacher starts a group with a pupil", mesh.TEACHER, "/api/v1/groups", {"name": "class", "members": [36]}),
    ("an adult adds an adult to a group", mesh.STRANGER, f"/api/v1/groups/{mesh.BOOK_CLUB}/members", {"members": [11]}),
    (
        "a parent adds an adult to the family group",
        mesh.PARENT,
        f"/api/v1/groups/{mesh.FAMILY}/members",
        {"members": [10]},
    ),
    ("an adult asks an adult to be friends", mesh.STRANGER, "/api/v1/friend-requests", {"to": 12}),
]


@pytest.mark.parametrize(("case", "sender", "path", "document"), MESH_WRITES, ids=[c[0] for c in MESH_WRITES])
async def test_mesh_writes_between_adults_and_connected_families_are_untouched(
    mesh_app: Subject, case: str, sender: str, path: str, document: dict[str, Any]
) -> None:
    raw = Raw("POST", path, headers=(mesh.bearer(sender), JSON), body=(json_body(document),))
    await assert_same_effect(mesh_app, raw)


@pytest.mark.parametrize("spelling", ["10", '"10"', "10.0", '"010"', '"+10"', '" 10"', '"10.0"', '"1_0"'])
async def test_an_adults_id_as_clients_write_it_is_still_an_adult(mesh_app: Subject, spelling: str) -> None:
    # A number, the number as a string (many clients send ids as strings), Python's float
    # (`json.dumps(10.0)`), and the odd spellings the app's `int` also reads as account 10,
    # an adult: with the app's users table as the band store, `010` beside an existing `10`
    # is no second account of unknown age (`facts.readings_of_accounts`).
    raw = Raw("POST", "/api/v1/messages", headers=(mesh.bearer(mesh.STRANGER), JSON),
              body=(b'{"text": "hi", "to": ' + spelling.encode() + b"}",))
    await assert_same_effect(mesh_app, raw)


@pytest.mark.parametrize(
    ("viewer", "user"), [(mesh.PARENT, mesh.CHILD), (mesh.TEACHER, mesh.PUPIL), (mesh.ADULT_FRIEND, mesh.CHILD)]
)
async def test_a_connected_adult_reads_the_childs_whole_profile(mesh_app: Subject, viewer: str, user: str) -> None:
    pair = await mesh_app.both(Raw("GET", f"/api/v1/users/{user}", headers=(mesh.bearer(viewer),)))
    assert pair.wrapped.status == 200
    mine, theirs = pair.wrapped.document(), pair.bare.document()
    assert {k: v for k, v in mine.items() if k != "friends"} == {k: v for k, v in theirs.items() if k != "friends"}
    assert mine["friends"] == allowed_items(mesh_app, viewer, theirs["friends"], "id")


# --- Clubs (its own body reading) -----------------------------------------------------------------

FORM = header("content-type", "application/x-www-form-urlencoded")
CLUBS_WRITES = [
    ("an adult messages an adult in JSON", clubs.ADULT_FRIEND, "/dm", (JSON,), b'{"to": "ada.adult", "text": "hi"}'),
    ("an adult messages an adult in a form", clubs.ADULT_FRIEND, "/dm", (FORM,), b"to=ada.adult&text=hi"),
    (
        "JSON with a charset",
        clubs.STRANGER,
        "/dm",
        (header("content-type", "application/json; charset=utf-8"),),
        b'{"to": "ben.adult"}',
    ),
    ("a parent messages their child in a form", clubs.PARENT, "/dm", (FORM,), b"to=dee.kid&text=home+at+6"),
    ("a teacher messages a pupil in JSON", clubs.TEACHER, "/dm", (JSON,), b'{"to": "eli.kid"}'),
    (
        "a parent opens a room with their child and an adult",
        clubs.PARENT,
        "/rooms",
        (JSON,),
        b'{"title": "trip", "members": {"dee.kid": true, "ben.adult": true}}',
    ),
    (
        "an adult adds an adult to their room",
        clubs.STRANGER,
        f"/rooms/{clubs.CHESS}/members",
        (JSON,),
        b'{"members": {"cal.parent": true}}',
    ),
    (
        "an adult writes in a room of adults",
        clubs.STRANGER,
        f"/rooms/{clubs.CHESS}/messages",
        (JSON,),
        b'{"text": "e4"}',
    ),
    ("a parent writes in the family room", clubs.PARENT, f"/rooms/{clubs.FAMILY}/messages", (FORM,), b"text=dinner"),
    ("an adult invites an adult", clubs.STRANGER, "/invites", (FORM,), b"to=gus.teacher"),
]


@pytest.mark.parametrize(("case", "sender", "path", "headers", "body"), CLUBS_WRITES, ids=[c[0] for c in CLUBS_WRITES])
async def test_clubs_writes_between_adults_and_connected_families_are_untouched(
    clubs_app: Subject, case: str, sender: str, path: str, headers: tuple[Any, ...], body: bytes
) -> None:
    await assert_same_effect(clubs_app, Raw("POST", path, headers=(clubs.signed_in(sender), *headers), body=(body,)))


async def test_a_parent_reads_their_childs_whole_clubs_profile(clubs_app: Subject) -> None:
    pair = await clubs_app.both(Raw("GET", f"/people/{clubs.CHILD}", headers=(clubs.signed_in(clubs.PARENT),)))
    assert (pair.wrapped.status, pair.wrapped.document()) == (200, pair.bare.document())


GZIP = header("content-encoding", "gzip")
COMPRESSED_CLUBS_WRITES = [
    ("an adult messages an adult in a gzipped form", clubs.STRANGER, "/dm", FORM, b"to=ben.adult&text=hi"),
    ("a parent messages their child in gzipped JSON", clubs.PARENT, "/dm", JSON, b'{"to": "dee.kid", "text": "hi"}'),
    ("an adult invites an adult in gzipped JSON", clubs.STRANGER, "/invites", JSON, b'{"to": "gus.teacher"}'),
]


@pytest.mark.parametrize(
    ("case", "sender", "path", "media", "body"), COMPRESSED_CLUBS_WRITES, ids=[c[0] for c in COMPRESSED_CLUBS_WRITES]
)
async def test_compressed_uploads_an_app_undoes_itself_are_untouched(
    clubs_gunzipping: Subject, case: str, sender: str, path: str, media: Any, body: bytes
) -> None:
    raw = Raw("POST", path, headers=(clubs.signed_in(sender), media, GZIP), body=(gzip.compress(body),))
    await assert_same_effect(clubs_gunzipping, raw)
