"""Chirp: a Starlette JSON API that compresses its own answers.

Its conventions: handles as account ids (`kid_mia`); a signed session cookie names the
viewer; a connection is a mutual follow; search, suggestions and follower lists are public
(an anonymous visitor can read them); lists and profiles carry caching headers (`ETag`,
`Last-Modified`, `Cache-Control: public, max-age=60`) and honour `If-None-Match`; and the
app compresses inside itself, as platforms ship: Starlette's `GZipMiddleware` (which reads
only the first `Accept-Encoding` header, case-sensitively) around a deflate middleware of
its own (which reads every `Accept-Encoding` header in any case and ignores `q=0`). Age bands
live in Safe Accounts' own table (`safe-accounts bands set`).
"""

from __future__ import annotations

import hashlib
import json
import time
import zlib
from pathlib import Path
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..harness import Header, Person, header
from .tables import Tables, Truth

KEY_ENV = "CHIRP_SESSION_KEY"
KEY = "chirp-session-signing-key-for-tests-only-0001"
COOKIE = "chirp_session"
LAST_MODIFIED = "Wed, 21 Oct 2026 07:28:00 GMT"

STRANGER = "rex_stranger"
ADULT_FRIEND = "ann_adult"
PARENT, CHILD = "pat_parent", "kid_mia"
TEACHER, PUPIL = "tom_teacher", "kid_leo"

PEOPLE = {
    p.id: p
    for p in (
        Person("rex_stranger", "Rex Stranger", "adult"),
        Person("ann_adult", "Ann Adult", "adult"),
        Person("pat_parent", "Pat Parent", "adult"),
        Person("tom_teacher", "Tom Teacher", "adult"),
        Person("kid_mia", "Mia Kidd", "13_15", ("Mia Lane 3", "Mia Academy")),
        Person("kid_leo", "Leo Small", "under_13", ("Leo Close 9", "Leo Primary")),
        Person("teen_ivy", "Ivy Teen", "16_17", ("Ivy Road 1", "Ivy College")),
        Person("anon_zed", "Zed Noage", "unknown", ("Zed Court 4", "Zed School")),
    )
}
# Where adults live is public on Chirp: only minors' fields are private.
ADULT_FIELDS = {
    "rex_stranger": ("Rex Row 1", "-"), "ann_adult": ("Ann Street 2", "-"),
    "pat_parent": ("Pat Place 5", "-"), "tom_teacher": ("Tom Terrace 7", "Leo Primary staff"),
}
MUTUAL = [
    ("rex_stranger", "ann_adult"),
    ("pat_parent", "kid_mia"),
    ("tom_teacher", "kid_leo"),
    ("pat_parent", "ann_adult"),
]
ONE_WAY = [
    ("kid_mia", "ann_adult"), ("teen_ivy", "ann_adult"), ("anon_zed", "ann_adult"),
    ("kid_leo", "pat_parent"), ("teen_ivy", "rex_stranger"),
]
CONNECTIONS = frozenset(frozenset(pair) for pair in MUTUAL)

SCHEMA = """
CREATE TABLE people (handle TEXT PRIMARY KEY, name TEXT, location TEXT, school TEXT);
CREATE TABLE follows (follower TEXT, followee TEXT);
CREATE TABLE messages (sender TEXT, recipient TEXT, text TEXT);
CREATE TABLE requests (sender TEXT, recipient TEXT);
"""
MUTABLE = ("messages", "requests")


def seed() -> dict[str, list[tuple[Any, ...]]]:
    people = [
        (p.id, p.name, *(p.private or ADULT_FIELDS[p.id])) for p in PEOPLE.values()
    ]
    follows = [pair for a, b in MUTUAL for pair in ((a, b), (b, a))] + ONE_WAY
    return {"people": people, "follows": follows}


POLICY = f"""
version: 1
name: chirp
extends: baseline
# A production budget is 250 ms; a loaded test machine can take longer over a cold query.
defaults: {{time_budget_ms: 2000}}
identity:
  - {{source: jwt, header: null, cookie: {COOKIE}, key_env: {KEY_ENV}}}
relationships:
  connected:
    sql: >-
      SELECT a.followee FROM follows a JOIN follows b
      ON b.follower = a.followee AND b.followee = a.follower
      WHERE a.follower = :actor AND a.followee IN :targets
  mutual_count:
    sql: >-
      SELECT COUNT(*) FROM follows a JOIN follows b ON a.followee = b.followee
      WHERE a.follower = :actor AND b.follower = :target
rules:
  # Contact requests to children from adults with no friends in common are refused outright.
  - {{id: stranger-request-to-minor, mode: enforce}}
routes:
  - name: search
    method: GET
    path: /api/search
    action: discovery
    response: {{items: "results[*]", id: handle}}
  - name: suggestions
    method: GET
    path: /api/suggestions
    action: discovery
    response: {{items: "suggested[*]", id: handle}}
  - name: followers
    method: GET
    path: /api/users/{{handle}}/followers
    action: discovery
    response: {{items: "followers[*]", id: handle}}
  - name: profile
    method: GET
    path: /api/users/{{handle}}
    action: profile_view
    targets: [{{path: handle}}]
    response: {{id: handle, redact: [location, school, followers], lists: ["followers[*]"]}}
  - name: message
    method: POST
    path: /api/messages
    action: direct_message
    targets: [{{json: to}}]
  - name: follow-request
    method: POST
    path: /api/follow-requests
    action: contact_request
    targets: [{{json: to}}]
"""


def session(handle: str) -> Header:
    token = jwt.encode({"sub": handle, "exp": int(time.time()) + 3600}, KEY, algorithm="HS256")
    return header("cookie", f"{COOKIE}={token}")


def contacts(truth: Truth) -> set[tuple[str, str]]:
    return {(row[0], row[1]) for table in MUTABLE for row in truth[table]}


class DeflateMiddleware:
    """The app's own second coding: deflate whenever any `Accept-Encoding` mentions it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        accepts = b",".join(v for k, v in scope.get("headers", ()) if k == b"accept-encoding").lower()
        if scope["type"] != "http" or b"deflate" not in accepts:
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def deflating(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            headers = MutableHeaders(raw=list(start.get("headers", [])))
            body = b"".join(chunks)
            if body and "content-encoding" not in headers:
                body = zlib.compress(body)
                headers["content-encoding"] = "deflate"
                headers["content-length"] = str(len(body))
                headers.add_vary_header("Accept-Encoding")
            await send({**start, "headers": headers.raw})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, deflating)


class Chirp:
    def __init__(self, path: Path) -> None:
        self.tables = Tables(path, SCHEMA, seed(), MUTABLE)
        self.app = Starlette(
            routes=[
                Route("/api/search", self.search),
                Route("/api/suggestions", self.suggestions),
                Route("/api/users/{handle}/followers", self.followers),
                Route("/api/users/{handle}", self.profile),
                Route("/api/messages", self.message, methods=["POST"]),
                Route("/api/follow-requests", self.follow_request, methods=["POST"]),
            ],
            middleware=[Middleware(GZipMiddleware, minimum_size=16), Middleware(DeflateMiddleware)],
        )

    # --- who asks -------------------------------------------------------------------------

    def viewer(self, request: Request) -> str | None:
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        try:
            return str(jwt.decode(token, KEY, algorithms=["HS256"])["sub"])
        except jwt.PyJWTError:
            return None

    async def exists(self, handle: Any) -> bool:
        return (
            isinstance(handle, str)
            and await self.tables.one("SELECT 1 FROM people WHERE handle = ?", handle) is not None
        )

    async def cards(self, sql: str, *params: Any) -> list[dict[str, str]]:
        """`sql` selects handles; their cards, in its order."""
        names = dict(await self.tables.rows("SELECT handle, name FROM people"))
        return [{"handle": h, "name": names[h]} for (h,) in await self.tables.rows(sql, *params)]

    async def followers_of(self, handle: str) -> list[dict[str, str]]:
        return await self.cards("SELECT follower FROM follows WHERE followee = ? ORDER BY follower", handle)

    # --- answers ---------------------------------------------------------------------------

    def cacheable(self, request: Request, document: Any) -> Response:
        body = json.dumps(document).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        caching = {"etag": etag, "last-modified": LAST_MODIFIED, "cache-control": "public, max-age=60"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=caching)
        return Response(body, media_type="application/json", headers=caching)

    async def search(self, request: Request) -> Response:
        q = request.query_params.get("q", "").lower()
        everyone = await self.cards("SELECT handle FROM people ORDER BY handle")
        found = [c for c in everyone if q in c["handle"].lower() or q in c["name"].lower()]
        return self.cacheable(request, {"results": found, "count": len(found)})

    async def suggestions(self, request: Request) -> Response:
        viewer = self.viewer(request)
        follows = {r[0] for r in await self.tables.rows("SELECT followee FROM follows WHERE follower = ?", viewer)}
        everyone = await self.cards("SELECT handle FROM people ORDER BY handle")
        return self.cacheable(
            request, {"suggested": [c for c in everyone if c["handle"] != viewer and c["handle"] not in follows]}
        )

    async def followers(self, request: Request) -> Response:
        handle = request.path_params["handle"]
        if not await self.exists(handle):
            return JSONResponse({"error": "not found"}, status_code=404)
        return self.cacheable(request, {"handle": handle, "followers": await self.followers_of(handle)})

    async def profile(self, request: Request) -> Response:
        handle = request.path_params["handle"]
        row = await self.tables.one("SELECT handle, name, location, school FROM people WHERE handle = ?", handle)
        if row is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        document = dict(zip(("handle", "name", "location", "school"), row, strict=True))
        document["followers"] = await self.followers_of(handle)
        return self.cacheable(request, document)

    async def _write(self, request: Request, table: str) -> Response:
        sender = self.viewer(request)
        if sender is None:
            return JSONResponse({"error": "sign in"}, status_code=401)
        try:
            document = await request.json()
        except ValueError:
            return JSONResponse({"error": "bad json"}, status_code=400)
        to = document.get("to") if isinstance(document, dict) else None
        if not await self.exists(to):
            return JSONResponse({"error": "no such account"}, status_code=404)
        if table == "messages":
            await self.tables.write("INSERT INTO messages VALUES (?, ?, ?)", sender, to, str(document.get("text", "")))
        else:
            await self.tables.write("INSERT INTO requests VALUES (?, ?)", sender, to)
        return JSONResponse({"ok": True}, status_code=201)

    async def message(self, request: Request) -> Response:
        return await self._write(request, "messages")

    async def follow_request(self, request: Request) -> Response:
        return await self._write(request, "requests")
