"""Clubs: a Starlette app that reads request bodies its own way.

Its conventions: handles with a dot (`dee.kid`) as account ids; a gateway in front of it
signs users in and forwards who they are in `X-Forwarded-User`; age from its own
`people.dob` column; connections and room members from Python functions (the policy's
`callable:` lookups), not SQL.

How it reads a body (`read_body`), as many hand-written apps do: the first `Content-Type`
header, compared case-sensitively; JSON when it is exactly `application/json`, else JSON
anyway if the bytes parse (any charset parameter ignored: `json.loads` tells UTF-8, UTF-16
and UTF-32 from the bytes), else a urlencoded form (the last of a repeated field wins).
Room members are an object, `{"members": {"dee.kid": true}}`: a key with a true value is a
member (the policy reads the keys, `members[*]~`). An unknown person is its own 404 shape,
`{"error": "no such person"}`.
"""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..harness import Person, born, header
from .tables import Tables, Truth

GATEWAY_HEADER = "x-forwarded-user"

STRANGER, ADULT_FRIEND = "ada.adult", "ben.adult"
PARENT, CHILD = "cal.parent", "dee.kid"
TEACHER, PUPIL = "gus.teacher", "eli.kid"
TEEN, NO_AGE = "fay.teen", "hal.nobody"

PEOPLE = {
    p.id: p
    for p in (
        Person("ada.adult", "Ada Adams", "adult"),
        Person("ben.adult", "Ben Brown", "adult"),
        Person("cal.parent", "Cal Carter", "adult"),
        Person("gus.teacher", "Gus Green", "adult"),
        Person("dee.kid", "Dee Dawson", "13_15", ("Deeville", "Dee Grammar")),
        Person("eli.kid", "Eli Ellis", "under_13", ("Eliton", "Eli Juniors")),
        Person("fay.teen", "Fay Fields", "16_17", ("Fayford", "Fay Sixth")),
        Person("hal.nobody", "Hal Hughes", "unknown", ("Halham", "Hal Academy")),
    )
}
AGES = {
    "ada.adult": 39, "ben.adult": 45, "cal.parent": 42, "gus.teacher": 50, "dee.kid": 14, "eli.kid": 10, "fay.teen": 17
}
FRIENDS = [
    ("ada.adult", "ben.adult"),
    ("cal.parent", "dee.kid"),
    ("gus.teacher", "eli.kid"),
    ("cal.parent", "ben.adult"),
]
CONNECTIONS = frozenset(frozenset(pair) for pair in FRIENDS)

SCHEMA = """
CREATE TABLE people (handle TEXT PRIMARY KEY, display TEXT, town TEXT, school TEXT, dob TEXT);
CREATE TABLE friends (a TEXT, b TEXT);
CREATE TABLE dms (sender TEXT, recipient TEXT, text TEXT);
CREATE TABLE rooms (id INTEGER PRIMARY KEY, title TEXT, owner TEXT);
CREATE TABLE room_members (room INTEGER, member TEXT);
CREATE TABLE room_messages (room INTEGER, sender TEXT, text TEXT);
CREATE TABLE invites (sender TEXT, recipient TEXT);
"""
MUTABLE = ("dms", "rooms", "room_members", "room_messages", "invites")
CHESS, FAMILY = 1, 2  # the stranger's room (with an adult friend); the parent's (with the child)


def seed() -> dict[str, list[tuple[Any, ...]]]:
    people = []
    for p in PEOPLE.values():
        town, school = p.private or (f"{p.name.split()[0]}stead", "-")
        age = AGES.get(p.id)
        people.append((p.id, p.name, town, school, born(age) if age is not None else None))
    return {
        "people": people,
        "friends": [pair for a, b in FRIENDS for pair in ((a, b), (b, a))],
        "rooms": [(CHESS, "chess", STRANGER), (FAMILY, "family", PARENT)],
        "room_members": [(CHESS, STRANGER), (CHESS, ADULT_FRIEND), (FAMILY, PARENT), (FAMILY, CHILD)],
    }


MODULE = __name__
POLICY = f"""
version: 1
name: clubs
extends: baseline
# A production budget is 250 ms; a loaded test machine can take longer over a cold query.
defaults: {{time_budget_ms: 2000}}
identity:
  - {{source: header, header: {GATEWAY_HEADER}, trusted_proxies: ["127.0.0.1/32"]}}
bands:
  store: {{source: host, table: people, id_column: handle, birth_date_column: dob}}
relationships:
  connected: {{callable: "{MODULE}:connected"}}
  mutual_count: {{callable: "{MODULE}:mutual_count"}}
queries:
  room-members: {{callable: "{MODULE}:room_members"}}
rules:
  # Contact requests to children from adults with no friends in common are refused outright.
  - {{id: stranger-request-to-minor, mode: enforce}}
routes:
  - name: people
    method: GET
    path: /people
    action: discovery
    response: {{items: "people[*]", id: handle}}
  - name: person
    method: GET
    path: /people/{{handle}}
    action: profile_view
    targets: [{{path: handle}}]
    response: {{id: handle, redact: [town, school]}}
  - name: dm
    method: POST
    path: /dm
    action: direct_message
    targets: [{{json: to}}, {{form: to}}]
  - name: new-room
    method: POST
    path: /rooms
    action: direct_message
    targets: [{{json: "members[*]~"}}]
  - name: add-members
    method: POST
    path: /rooms/{{room:int}}/members
    action: direct_message
    targets: [{{json: "members[*]~"}}]
  - name: room-message
    method: POST
    path: /rooms/{{room:int}}/messages
    action: direct_message
    targets: [{{sql: room-members, params: {{room: path.room}}}}]
  - name: invite
    method: POST
    path: /invites
    action: contact_request
    targets: [{{json: to}}, {{form: to}}]
"""


def signed_in(user: str) -> tuple[bytes, bytes]:
    return header(GATEWAY_HEADER, user)


def contacts(truth: Truth) -> set[tuple[str, str]]:
    found = {(s, r) for s, r, *_ in truth["dms"] + truth["invites"]}
    members: dict[int, set[str]] = {}
    for room, member in truth["room_members"]:
        members.setdefault(room, set()).add(member)
    for room in members.values():
        found |= {(a, b) for a in room for b in room if a != b}
    return found


# --- the policy's lookups: Python functions over the app's tables ----------------------------
# The policy names module-level functions; they read the app built last (one per test).

_current: Clubs | None = None


def _tables() -> Tables:
    assert _current is not None, "no Clubs app has been built"
    return _current.tables


async def connected(actor: str, targets: list[str]) -> list[str]:
    friends = {r[0] for r in await _tables().rows("SELECT b FROM friends WHERE a = ?", actor)}
    return [t for t in targets if t in friends]


async def mutual_count(actor: str, target: str) -> list[int]:
    row = await _tables().one(
        "SELECT COUNT(*) FROM friends x JOIN friends y ON x.b = y.b WHERE x.a = ? AND y.a = ?", actor, target
    )
    return [row[0] if row else 0]


async def room_members(room: Any) -> list[str]:
    return [r[0] for r in await _tables().rows("SELECT member FROM room_members WHERE room = ?", int(room))]


class BadBody(Exception):
    pass


async def read_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    content_type = request.headers.get("content-type")  # the first one
    try:
        if content_type == "application/json":
            document = json.loads(body)
        else:
            try:
                document = json.loads(body)
            except ValueError:
                document = dict(parse_qsl(body.decode("latin-1")))
    except ValueError as exc:
        raise BadBody(str(exc)) from None
    if not isinstance(document, dict):
        raise BadBody("not an object")
    return document


class Clubs:
    def __init__(self, path: Path) -> None:
        global _current
        self.tables = Tables(path, SCHEMA, seed(), MUTABLE)
        _current = self
        self.app = Starlette(
            routes=[
                Route("/people", self.people),
                Route("/people/{handle}", self.person),
                Route("/dm", self.dm, methods=["POST"]),
                Route("/rooms", self.new_room, methods=["POST"]),
                Route("/rooms/{room:int}/members", self.add_members, methods=["POST"]),
                Route("/rooms/{room:int}/messages", self.room_message, methods=["POST"]),
                Route("/invites", self.invite, methods=["POST"]),
            ]
        )

    async def exists(self, handle: Any) -> bool:
        return (
            isinstance(handle, str)
            and await self.tables.one("SELECT 1 FROM people WHERE handle = ?", handle) is not None
        )

    async def members_of(self, room: int) -> set[str]:
        return {r[0] for r in await self.tables.rows("SELECT member FROM room_members WHERE room = ?", room)}

    async def people(self, request: Request) -> Response:
        q = request.query_params.get("q", "").lower()
        rows = await self.tables.rows("SELECT handle, display FROM people ORDER BY handle")
        return JSONResponse({"people": [{"handle": h, "display": d} for h, d in rows if q in d.lower() or q in h]})

    async def person(self, request: Request) -> Response:
        row = await self.tables.one(
            "SELECT handle, display, town, school FROM people WHERE handle = ?", request.path_params["handle"]
        )
        if row is None:
            return JSONResponse({"error": "no such person"}, status_code=404)
        return JSONResponse(dict(zip(("handle", "display", "town", "school"), row, strict=True)))

    async def _signed_in_body(self, request: Request) -> tuple[str, dict[str, Any]]:
        user = request.headers.get(GATEWAY_HEADER)
        if not user:
            raise PermissionError
        return user, await read_body(request)

    async def _pair(self, request: Request, table: str) -> Response:
        try:
            sender, document = await self._signed_in_body(request)
        except PermissionError:
            return JSONResponse({"error": "sign in"}, status_code=401)
        except BadBody as exc:
            return JSONResponse({"error": f"bad body: {exc}"}, status_code=400)
        to = document.get("to")
        if not await self.exists(to):
            return JSONResponse({"error": "no such person"}, status_code=404)
        if table == "dms":
            await self.tables.write("INSERT INTO dms VALUES (?, ?, ?)", sender, to, str(document.get("text", "")))
        else:
            await self.tables.write("INSERT INTO invites VALUES (?, ?)", sender, to)
        return JSONResponse({"ok": True}, status_code=201)

    async def dm(self, request: Request) -> Response:
        return await self._pair(request, "dms")

    async def invite(self, request: Request) -> Response:
        return await self._pair(request, "invites")

    async def _members(self, document: dict[str, Any]) -> list[str]:
        members = document.get("members")
        if not isinstance(members, dict):
            raise BadBody("members must be an object")
        chosen = [handle for handle, wanted in members.items() if wanted]
        for handle in chosen:
            if not await self.exists(handle):
                raise LookupError
        return chosen

    async def new_room(self, request: Request) -> Response:
        try:
            owner, document = await self._signed_in_body(request)
            members = await self._members(document)
        except PermissionError:
            return JSONResponse({"error": "sign in"}, status_code=401)
        except BadBody as exc:
            return JSONResponse({"error": f"bad body: {exc}"}, status_code=400)
        except LookupError:
            return JSONResponse({"error": "no such person"}, status_code=404)
        (top,) = await self.tables.one("SELECT COALESCE(MAX(id), 0) FROM rooms") or (0,)
        room = top + 1
        await self.tables.write("INSERT INTO rooms VALUES (?, ?, ?)", room, str(document.get("title", "")), owner)
        for member in dict.fromkeys([owner, *members]):
            await self.tables.write("INSERT INTO room_members VALUES (?, ?)", room, member)
        return JSONResponse({"room": room}, status_code=201)

    async def add_members(self, request: Request) -> Response:
        room = request.path_params["room"]
        try:
            adder, document = await self._signed_in_body(request)
            members = await self._members(document)
        except PermissionError:
            return JSONResponse({"error": "sign in"}, status_code=401)
        except BadBody as exc:
            return JSONResponse({"error": f"bad body: {exc}"}, status_code=400)
        except LookupError:
            return JSONResponse({"error": "no such person"}, status_code=404)
        present = await self.members_of(room)
        if adder not in present:
            return JSONResponse({"error": "not in this room"}, status_code=403)
        for member in dict.fromkeys(members):
            if member not in present:
                await self.tables.write("INSERT INTO room_members VALUES (?, ?)", room, member)
        return JSONResponse({"members": sorted(present | set(members))})

    async def room_message(self, request: Request) -> Response:
        room = request.path_params["room"]
        try:
            sender, document = await self._signed_in_body(request)
        except PermissionError:
            return JSONResponse({"error": "sign in"}, status_code=401)
        except BadBody as exc:
            return JSONResponse({"error": f"bad body: {exc}"}, status_code=400)
        if sender not in await self.members_of(room):
            return JSONResponse({"error": "not in this room"}, status_code=403)
        await self.tables.write(
            "INSERT INTO room_messages VALUES (?, ?, ?)", room, sender, str(document.get("text", ""))
        )
        return JSONResponse({"ok": True}, status_code=201)


class Gunzipping:
    """What an app that accepts compressed uploads puts in front of its routes: it undoes
    `Content-Encoding: gzip` with `gzip.decompress` (which reads every member) before the
    app reads the body. Starlette itself never undoes a request's coding."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or (b"content-encoding", b"gzip") not in scope["headers"]:
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            plain = gzip.decompress(body)
        except (OSError, EOFError, zlib.error):
            await JSONResponse({"error": "bad gzip"}, status_code=400)(scope, receive, send)
            return
        headers = [(k, v) for k, v in scope["headers"] if k not in (b"content-encoding", b"content-length")]
        delivered = False

        async def replayed() -> Any:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": plain, "more_body": False}
            return await receive()

        await self.app({**scope, "headers": headers}, replayed, send)


class GunzippingClubs(Clubs):
    """Clubs behind `Gunzipping`."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.app = Gunzipping(self.app)  # type: ignore[assignment]
