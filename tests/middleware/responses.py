"""Answers as a client receives them: raw ASGI calls, the bytes on the wire, decoded the way
a client decodes them.

The tests of encoded responses and caching headers judge by what the attacker's client
gets, so nothing here goes through a client library that might decode or drop headers
on its own.
"""

from __future__ import annotations

import asyncio
import gzip
import importlib.util
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock

from .conftest import ACCOUNTS, POLICY, drop_host_tables, seed

MINORS = frozenset({"kid", "young", "teen", "kid-friend"})
# The app's search answer: every account, children too.
LISTING = orjson.dumps({"results": [{"id": a, "name": a} for a in ACCOUNTS], "total": len(ACCOUNTS)})
ADULTS_ONLY = orjson.dumps({"results": [{"id": a, "name": a} for a in ACCOUNTS if a not in MINORS]})

HAS_BROTLI = importlib.util.find_spec("brotli") is not None
HAS_ZSTD = importlib.util.find_spec("zstandard") is not None


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return ", ".join(values) if values else None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]

    def decoded(self) -> bytes:
        """The body as a client decodes it (codings undone last to first)."""
        data = self.body
        for coding in reversed([c.strip() for c in (self.header("content-encoding") or "").split(",") if c.strip()]):
            if coding in ("gzip", "x-gzip"):
                data = gzip.decompress(data)
            elif coding == "deflate":
                try:
                    data = zlib.decompress(data)
                except zlib.error:
                    data = zlib.decompress(data, -zlib.MAX_WBITS)
            elif coding == "br":
                import brotli

                data = brotli.decompress(data)
            elif coding == "zstd":
                import zstandard

                data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
            elif coding != "identity":
                raise AssertionError(f"a client cannot read {coding!r}")
        return data

    def json(self) -> Any:
        return orjson.loads(self.decoded())

    def listed(self) -> set[str]:
        return {item["id"] for item in self.json()["results"]}

    def problem_type(self) -> str:
        assert self.header("content-type") == "application/problem+json", self.headers
        return orjson.loads(self.body)["type"].rsplit("/", 1)[-1]


async def call(
    app: Any,
    method: str,
    target: str,
    actor: str | None = None,
    headers: Sequence[tuple[str, str]] = (),
    extensions: dict[str, Any] | None = None,
) -> Answer:
    """One request as a server hands it over; the answer exactly as the server would send it."""
    path, _, query = target.partition("?")
    raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    if actor is not None:
        raw_headers.append((b"x-account-id", actor.encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query.encode(), "headers": raw_headers, "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80), "extensions": extensions or {},
    }
    sent: list[dict[str, Any]] = []
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays connected until the answer is done
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1, sent
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert bodies and not bodies[-1].get("more_body", False), "the answer never ended"
    return Answer(
        status=starts[0]["status"],
        headers=[(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in starts[0].get("headers", [])],
        body=b"".join(m.get("body", b"") for m in bodies),
    )


@dataclass
class Canned:
    """A host app that answers what the test says, as an app would, and keeps every scope it got."""

    status: int = 200
    headers: list[tuple[bytes, bytes]] = field(default_factory=lambda: [(b"content-type", b"application/json")])
    chunks: Sequence[bytes] = (LISTING,)
    seen: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.seen.append(scope)
        await send({"type": "http.response.start", "status": self.status, "headers": list(self.headers)})
        last = len(self.chunks) - 1
        for i, chunk in enumerate(self.chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": i < last})

    def asked(self, name: str) -> list[str]:
        """The values of a request header as the app received it (last request)."""
        key = name.encode()
        return [v.decode("latin-1") for k, v in self.seen[-1]["headers"] if k == key]


Wrap = Callable[..., SafeAccountsMiddleware]


@pytest.fixture
async def wrap(engine: AsyncEngine, database_url: str, tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Wrap]:
    """`wrap(app, policy=POLICY)`: the app behind Safe Accounts, the conftest's cast seeded."""
    await seed(engine, clock)
    made: list[SafeAccountsMiddleware] = []

    def make(app: Any, policy: str = POLICY, **options: Any) -> SafeAccountsMiddleware:
        path = tmp_path / f"policy-{len(made)}.yaml"
        path.write_text(policy)
        options.setdefault("signals", None)
        middleware = SafeAccountsMiddleware(app, policy=path, database_url=database_url, clock=clock, **options)
        made.append(middleware)
        return middleware

    yield make
    for middleware in made:
        await middleware.close()
    await drop_host_tables(engine)
