"""Class 2 of issue 13, a protected route with no target found: wherever the middleware reads a
body differently from the app, a stranger's message, room or invite reaches a child.

Two apps read bodies their own ways. Clubs compares the first `Content-Type`
case-sensitively, reads JSON whatever the type says (UTF-8, -16 or -32, told from the
bytes), falls back to a form, and takes room members from an object
(`{"members": {"dee.kid": true}}`). Mesh is FastAPI: JSON under any `application/json`
spelling or `+json` type, the first `Content-Type` header, pydantic's last duplicate key.
Hypothesis writes the same attack in every such way; the judge is the app's own tables: no
new row lets the stranger reach a child he is not connected with.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from .apps import clubs, mesh
from .conftest import open_subject
from .harness import Header, Raw, Subject, header
from .spellings import ENCODINGS, content_types, json_object, string_value

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

CLUBS_CHILDREN = [p.id for p in clubs.PEOPLE.values() if p.minor]
MESH_CHILDREN = [int(p.id) for p in mesh.PEOPLE.values() if p.minor]


def chunks(draw: st.DrawFn, body: bytes) -> tuple[bytes, ...]:
    """The body in one message, or cut in two: a server hands over what arrived."""
    if len(body) > 1 and draw(st.booleans()):
        cut = draw(st.integers(1, len(body) - 1))
        return (body[:cut], body[cut:])
    return (body,)


async def judge(subject: Subject, raw: Raw, attacker: str) -> None:
    pair = await subject.both(raw)
    reached = subject.stranger_contact(pair.bare_truth, attacker)
    if currently_in_test_context():  # under Hypothesis: how many attacks the bare app let through
        event("the bare app let the stranger reach a child" if reached else "the bare app refused it itself")
    contact = subject.stranger_contact(pair.wrapped_truth, attacker)
    assert not contact, (
        f"through the wrapped app {attacker} reached {sorted(contact)}: "
        f"{pair.wrapped.status} {pair.wrapped.text()[:200]}"
    )


# --- Clubs -----------------------------------------------------------------------------------------


@st.composite
def _form_value(draw: st.DrawFn, text: str) -> str:
    index = draw(st.integers(0, len(text) - 1))
    return draw(st.sampled_from([
        text,
        quote(text, safe=""),
        text[:index] + f"%{ord(text[index]):02x}" + text[index + 1:],
        text[:index] + f"%{ord(text[index]):02X}" + text[index + 1:],
    ]))


@st.composite
def clubs_body(draw: st.DrawFn, field: str, child: str) -> bytes:
    """`field` naming `child`, as JSON (any encoding, duplicate keys, escapes) or as a form."""
    if draw(st.booleans()):
        members = [("text", '"hi"'), (field, draw(string_value(child)))]
        if draw(st.booleans()):
            members.insert(0, (field, f'"{clubs.ADULT_FRIEND}"'))  # a decoy: the app keeps the last
        if draw(st.booleans()):
            members.reverse()
            members.append((field, draw(string_value(child))))
        return draw(json_object(members)).encode(draw(st.sampled_from(ENCODINGS)))
    fields = [("text", "hi"), (field, draw(_form_value(child)))]
    if draw(st.booleans()):
        fields.insert(0, (field, clubs.ADULT_FRIEND))
    return "&".join(f"{k}={v}" for k, v in fields).encode()


@st.composite
def clubs_pair_attack(draw: st.DrawFn) -> Raw:
    path = draw(st.sampled_from(["/dm", "/invites"]))
    body = draw(clubs_body("to", draw(st.sampled_from(CLUBS_CHILDREN))))
    headers: tuple[Header, ...] = (clubs.signed_in(clubs.STRANGER), *draw(content_types()))
    return Raw("POST", path, headers=headers, body=chunks(draw, body))


JSON_ = header("content-type", "application/json")
FORM = header("content-type", "application/x-www-form-urlencoded")


@SETTINGS
@given(raw=clubs_pair_attack())
@example(
    raw=Raw(
        "POST",
        "/dm",
        headers=(clubs.signed_in(clubs.STRANGER), header("content-type", "Application/x-www-form-urlencoded")),
        body=(b'{"to": "dee.kid", "text": "hi"}',),
    )
)
@example(
    raw=Raw(
        "POST",
        "/dm",
        headers=(clubs.signed_in(clubs.STRANGER), header("content-type", "text/plain; charset=utf-16")),
        body=('{"to": "dee.kid"}'.encode("utf-16"),),
    )
)
@example(raw=Raw("POST", "/dm", headers=(clubs.signed_in(clubs.STRANGER), JSON_, FORM), body=(b'{"to": "eli.kid"}',)))
@example(raw=Raw("POST", "/dm", headers=(clubs.signed_in(clubs.STRANGER), FORM, JSON_), body=(b"to=fay.teen",)))
@example(
    raw=Raw(
        "POST", "/invites", headers=(clubs.signed_in(clubs.STRANGER),), body=(b'{"to": "ben.adult", "to": "dee.kid"}',)
    )
)
async def test_a_stranger_cannot_reach_a_child_however_clubs_reads_the_body(clubs_app: Subject, raw: Raw) -> None:
    await judge(clubs_app, raw, clubs.STRANGER)


@st.composite
def clubs_room_attack(draw: st.DrawFn) -> Raw:
    child = draw(st.sampled_from(CLUBS_CHILDREN))
    wanted = draw(st.sampled_from(["true", "1", '"yes"', "[1]", '{"role": "guest"}']))
    entries = [(child, wanted)]
    if draw(st.booleans()):
        entries.insert(draw(st.integers(0, 1)), (clubs.ADULT_FRIEND, "true"))
    if draw(st.booleans()):
        entries.insert(0, (child, "false"))  # a duplicate: the app keeps the last, true
    members = draw(json_object(entries))
    document = [("title", '"games"'), ("members", members)]
    if draw(st.booleans()):
        document.insert(0, ("members", '{"ben.adult": true}'))  # a decoy the app overwrites
    body = draw(json_object(document)).encode(draw(st.sampled_from(ENCODINGS)))
    path = draw(st.sampled_from(["/rooms", f"/rooms/{clubs.CHESS}/members"]))
    return Raw("POST", path, headers=(clubs.signed_in(clubs.STRANGER), *draw(content_types())), body=chunks(draw, body))


@pytest.fixture(params=["members[*]~", "members[*]"], ids=["keys", "keys-and-values"])
async def clubs_rooms(request: pytest.FixtureRequest, tmp_path: Path, migrated: Path) -> AsyncIterator[Subject]:
    """Clubs, its policy reading room members as the object's keys (as documented for its
    convention), or as keys and values (a wildcard written without `~`)."""
    policy = clubs.POLICY.replace('"members[*]~"', f'"{request.param}"')
    subject, middleware = await open_subject("clubs", tmp_path, migrated, clubs.Clubs, clubs, policy=policy)
    yield subject
    await middleware.close()
    subject.tables.close()


@SETTINGS
@given(raw=clubs_room_attack())
@example(raw=Raw("POST", "/rooms", headers=(clubs.signed_in(clubs.STRANGER), JSON_),
                 body=(b'{"title": "games", "members": {"dee.kid": true}}',)))
@example(raw=Raw("POST", f"/rooms/{clubs.CHESS}/members", headers=(clubs.signed_in(clubs.STRANGER), JSON_),
                 body=(b'{"members": {"eli.kid": true, "ben.adult": true}}',)))
async def test_a_stranger_cannot_put_a_child_in_a_room_by_naming_it_as_an_object_key(
    clubs_rooms: Subject, raw: Raw
) -> None:
    await judge(clubs_rooms, raw, clubs.STRANGER)


# --- Mesh (FastAPI) ----------------------------------------------------------------------------------

MESH_CONTENT_TYPES = st.sampled_from(
    [
        (),
        (header("content-type", "application/json"),),
        (header("content-type", "Application/JSON"),),
        (header("content-type", "application/json; charset=utf-16"),),
        (header("content-type", "application/vnd.api+json"),),
        (header("content-type", "application/ld+json"),),
        (header("content-type", "text/plain"),),
        (header("content-type", "application/json"), header("content-type", "text/plain")),
        (header("content-type", "application/json"), header("content-type", "application/x-www-form-urlencoded")),
        (header("content-type", "application/problem+json"), header("content-type", "application/json")),
    ]
)


@st.composite
def mesh_attack(draw: st.DrawFn) -> Raw:
    child = draw(st.sampled_from(MESH_CHILDREN))
    route = draw(st.sampled_from(["message", "new-group", "add-members"]))
    members: list[tuple[str, str]]
    if route == "message":
        path, members = "/api/v1/messages", [("text", '"hi"'), ("to", str(child))]
        decoy = ("to", mesh.ADULT_FRIEND)
    else:
        path = "/api/v1/groups" if route == "new-group" else f"/api/v1/groups/{mesh.BOOK_CLUB}/members"
        members = [("name", '"games"'), ("members", f"[{mesh.ADULT_FRIEND}, {child}]")]
        decoy = ("members", f"[{mesh.ADULT_FRIEND}]")
    if draw(st.booleans()):
        members.insert(0, decoy)  # pydantic keeps the last
    body = draw(json_object(members)).encode(draw(st.sampled_from(ENCODINGS)))
    headers = (mesh.bearer(mesh.STRANGER), *draw(MESH_CONTENT_TYPES))
    return Raw("POST", path, headers=headers, body=chunks(draw, body))


@SETTINGS
@given(raw=mesh_attack())
@example(
    raw=Raw(
        "POST",
        "/api/v1/messages",
        headers=(mesh.bearer(mesh.STRANGER), header("content-type", "application/vnd.api+json")),
        body=(b'{"to": 7001}',),
    )
)
@example(
    raw=Raw(
        "POST",
        "/api/v1/messages",
        headers=(
            mesh.bearer(mesh.STRANGER),
            header("content-type", "application/json"),
            header("content-type", "text/plain"),
        ),
        body=(b'{"to": 36}',),
    )
)
@example(
    raw=Raw(
        "POST",
        "/api/v1/groups",
        headers=(mesh.bearer(mesh.STRANGER), header("content-type", "application/json")),
        body=('{"name": "x", "members": [10, 512]}'.encode("utf-16"),),
    )
)
async def test_a_stranger_cannot_reach_a_child_however_fastapi_reads_the_body(mesh_app: Subject, raw: Raw) -> None:
    await judge(mesh_app, raw, mesh.STRANGER)


# --- Compressed bodies -----------------------------------------------------------------------------
# Starlette, FastAPI, Django and Litestar never undo a request's `Content-Encoding`: an app
# built on them reads the bytes as sent (Clubs does). An app that accepts compressed uploads
# undoes it itself, with `gzip.decompress`, which reads every gzip member. A body must name
# the same accounts to us whichever of those readings the app makes.


def _gzip_named(data: bytes, name: str) -> bytes:
    """`data` gzipped, with `name` in the gzip header's file name field."""
    out = io.BytesIO()
    with gzip.GzipFile(filename=name, mode="wb", fileobj=out, mtime=0) as stream:
        stream.write(data)
    return out.getvalue()


_ADULT_FORM = f"to={clubs.ADULT_FRIEND}&text=hi".encode()
_CHILD_FIELD = f"&to={clubs.CHILD}&".encode()

COMPRESSED_ATTACKS = {
    # the child's field after the end of the compressed stream
    "after-gzip": ("gzip", gzip.compress(_ADULT_FORM) + _CHILD_FIELD),
    "after-deflate": ("deflate", zlib.compress(_ADULT_FORM) + _CHILD_FIELD),
    "after-an-empty-gzip": ("gzip", gzip.compress(b"") + _CHILD_FIELD),
    # inside the gzip header, which no decoder hands on
    "in-the-gzip-header": ("gzip", _gzip_named(_ADULT_FORM, _CHILD_FIELD.decode())),
    # in a second gzip member, which `gzip.decompress` reads and a single inflater does not
    "in-a-second-member": ("gzip", gzip.compress(_ADULT_FORM) + gzip.compress(_CHILD_FIELD)),
}


def _compressed_form(coding: str, body: bytes) -> Raw:
    headers = (clubs.signed_in(clubs.STRANGER), FORM, header("content-encoding", coding))
    return Raw("POST", "/dm", headers=headers, body=(body,))


@pytest.mark.parametrize("attack", list(COMPRESSED_ATTACKS))
async def test_a_stranger_cannot_reach_a_child_through_the_bytes_of_a_compressed_body(
    clubs_app: Subject, attack: str
) -> None:
    await judge(clubs_app, _compressed_form(*COMPRESSED_ATTACKS[attack]), clubs.STRANGER)


@pytest.mark.parametrize("attack", ["in-a-second-member", "after-gzip"])
async def test_a_stranger_cannot_reach_a_child_through_an_app_that_undoes_the_coding_itself(
    clubs_gunzipping: Subject, attack: str
) -> None:
    await judge(clubs_gunzipping, _compressed_form(*COMPRESSED_ATTACKS[attack]), clubs.STRANGER)
