"""The differential harness (issue 13): one raw ASGI request, sent to the bare app and to the
same app wrapped in SafeAccountsMiddleware, judged by the app's own tables and by the bytes
the client receives.

- `Raw` is the request exactly as a server would hand it over: method, raw path, query,
  header list (duplicates and order kept), and the body as the `http.request` messages.
- `call` runs one request through an app and keeps every byte it answers.
- `Reply.content()` undoes the answer's content codings as an HTTP client does; what a
  client could read, the tests read.
- `Subject.both` sends the same request to the bare app and to the wrapped app, each from
  the app's seed state, and returns both answers and both states of the app's tables.

The judgement is always the app's truth (a row naming a child in its messages, requests or
members tables) and the attacker's bytes (a child's id, name, or private fields in them),
never what the middleware says it did.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import unquote

from .apps.tables import Tables, Truth

Header = tuple[bytes, bytes]

REPLY_TIMEOUT = 30.0


@dataclass(frozen=True)
class Raw:
    """A request as the server hands it to the app. `path` is written as the client sent it
    (percent-encoded); `scope["path"]` is its decoding, `raw_path` its bytes."""

    method: str
    path: str
    query: str = ""
    headers: tuple[Header, ...] = ()
    body: tuple[bytes, ...] = ()
    client: str = "127.0.0.1"

    def scope(self) -> dict[str, Any]:
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": self.method,
            "scheme": "http",
            "path": unquote(self.path),
            "raw_path": self.path.encode("latin-1"),
            "root_path": "",
            "query_string": self.query.encode("latin-1"),
            "headers": [(name.lower(), value) for name, value in self.headers],
            "client": (self.client, 50123),
            "server": ("testserver", 80),
            "state": {},
            "extensions": {},
        }


def header(name: str, value: str | bytes) -> Header:
    return (name.lower().encode("latin-1"), value if isinstance(value, bytes) else value.encode("latin-1"))


def json_body(document: Any) -> bytes:
    return json.dumps(document).encode()


class Unreadable(Exception):
    """An answer in a coding no client in these tests can undo: nothing can be proved about it."""


@dataclass
class Reply:
    status: int
    headers: list[Header]
    body: bytes
    raised: BaseException | None = None  # the app's own exception, after (or instead of) its answer

    def header(self, name: str) -> str | None:
        key = name.lower().encode("latin-1")
        return next((v.decode("latin-1") for k, v in self.headers if k.lower() == key), None)

    def headers_named(self, name: str) -> list[str]:
        key = name.lower().encode("latin-1")
        return [v.decode("latin-1") for k, v in self.headers if k.lower() == key]

    def tokens(self, name: str) -> set[str]:
        """The comma-separated tokens of every `name` header, lower-cased, parameters dropped."""
        return {
            part.split("=")[0].split(";")[0].strip().lower()
            for value in self.headers_named(name)
            for part in value.split(",")
            if part.strip()
        }

    def content(self) -> bytes:
        """The body with its content codings undone, last applied first, as a client does."""
        codings = [c.strip().lower() for v in self.headers_named("content-encoding") for c in v.split(",") if c.strip()]
        data = self.body
        for coding in reversed(codings):
            data = _decode(coding, data)
        return data

    def text(self) -> str:
        return self.content().decode("utf-8", errors="replace")

    def document(self) -> Any:
        return json.loads(self.content())

    def readable(self) -> str:
        """Everything a client can read in the answer: its text, and every string inside it
        when it is JSON (so an escaped `\\u006bid` is read as `kid`)."""
        text = self.text()
        try:
            document = json.loads(text)
        except ValueError:
            return text
        return "\n".join([text, *_strings(document)])


def _decode(coding: str, data: bytes) -> bytes:
    if coding in ("identity", ""):
        return data
    if coding in ("gzip", "x-gzip"):
        out, rest = b"", data
        while rest:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += inflater.decompress(rest)
            rest = inflater.unused_data
        return out
    if coding == "deflate":
        try:
            return zlib.decompress(data)
        except zlib.error:
            return zlib.decompress(data, -zlib.MAX_WBITS)
    if coding == "br":
        try:
            import brotli  # type: ignore[import-not-found,import-untyped,unused-ignore]
        except ImportError:
            raise Unreadable("a br-encoded answer, and no brotli decoder to read it") from None
        return bytes(brotli.decompress(data))
    raise Unreadable(f"an answer in the {coding!r} coding")


def _strings(document: Any) -> Iterator[str]:
    if isinstance(document, str):
        yield document
    elif isinstance(document, dict):
        for key, value in document.items():
            yield key
            yield from _strings(value)
    elif isinstance(document, list):
        for item in document:
            yield from _strings(item)
    elif document is not None and not isinstance(document, bool):
        yield str(document)


async def call(app: Any, raw: Raw) -> Reply:
    """One request through `app`, as a server runs it: the body in its messages, then (once
    the answer is complete) a disconnect."""
    pending = list(raw.body) or [b""]
    done = asyncio.Event()
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        if pending:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending)}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert not start, "the answer was started twice"
            start.update(message)
        elif message["type"] == "http.response.body":
            assert start, "a body before the answer's start"
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    try:
        await asyncio.wait_for(app(raw.scope(), receive, send), REPLY_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - what a server does with an app's exception
        # Starlette has already answered 500 when it re-raises; otherwise the server does.
        if not start:
            return Reply(500, [], b"Internal Server Error", raised=exc)
        return Reply(start["status"], list(start.get("headers") or []), b"".join(chunks), raised=exc)
    assert start, f"{raw.method} {raw.path}: the app returned without answering"
    return Reply(start["status"], list(start.get("headers") or []), b"".join(chunks))


# --- the people of an app -------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """One account of an app. `id` as the app stores it (as text); `private` are the values
    a stranger may not read (location, school...); `band` is what the app's data makes it."""

    id: str
    name: str
    band: str  # under_13 | 13_15 | 16_17 | adult | unknown
    private: tuple[str, ...] = ()

    @property
    def minor(self) -> bool:
        return self.band != "adult"  # `unknown` is protected as a minor (the policy's default)


def born(age: int, today: date | None = None) -> str:
    """An ISO birth date that makes someone `age` today (a month past their birthday)."""
    today = today or date.today()
    year = today.year - age
    month = today.month - 1 or 12
    year -= 1 if today.month == 1 else 0
    return date(year, month, min(today.day, 28)).isoformat()


# --- one app under test, bare and wrapped -------------------------------------------------------


@dataclass
class Pair:
    bare: Reply
    bare_truth: Truth
    wrapped: Reply
    wrapped_truth: Truth


@dataclass
class Subject:
    """An app and the same app object behind the middleware, with its tables.

    `contacts` reads, from a state of the app's tables, every (from, to) pair of accounts
    that can now reach each other: a message, a request, a shared group.
    """

    name: str
    bare: Any = field(repr=False)
    wrapped: Any = field(repr=False)
    tables: Tables = field(repr=False)
    people: Mapping[str, Person] = field(repr=False)
    connections: frozenset[frozenset[str]] = field(repr=False)
    contacts: Callable[[Truth], set[tuple[str, str]]] = field(repr=False)

    async def both(self, raw: Raw) -> Pair:
        """`raw` to the bare app and to the wrapped app, each from the seed state."""
        await self.tables.reset()
        bare = await call(self.bare, raw)
        bare_truth = await self.tables.truth()
        await self.tables.reset()
        wrapped = await call(self.wrapped, raw)
        wrapped_truth = await self.tables.truth()
        await self.tables.reset()
        return Pair(bare, bare_truth, wrapped, wrapped_truth)

    async def wrapped_only(self, raw: Raw) -> tuple[Reply, Truth]:
        await self.tables.reset()
        reply = await call(self.wrapped, raw)
        truth = await self.tables.truth()
        await self.tables.reset()
        return reply, truth

    def connected(self, a: str, b: str) -> bool:
        return frozenset((a, b)) in self.connections

    def stranger_contact(self, truth: Truth, sender: str) -> set[tuple[str, str]]:
        """New contacts (not in the seed) from `sender` to a minor `sender` is not connected with."""
        new = self.contacts(truth) - self.contacts(self.tables.seed_truth())
        return {
            (a, b) for a, b in new
            if a == sender and b in self.people and self.people[b].minor and not self.connected(a, b)
        }

    def minors(self) -> list[Person]:
        return [p for p in self.people.values() if p.minor]


def leaks(reply: Reply, values: Iterable[str]) -> set[str]:
    """Which of `values` a client can read in `reply` (raw bytes, decoded text, JSON strings)."""
    readable = reply.readable()
    raw = reply.body.decode("latin-1")
    return {v for v in values if v in readable or v in raw}
