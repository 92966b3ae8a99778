"""A block beats every DM decided after it was answered, in every worker (issue 13, class 8).

Each worker caches relationships for `relationships.cache_seconds`. When a child blocks
someone, the worker that saw the block makes every worker forget the pair - and waits
for each to confirm - before the block's answer starts; a DM through any worker after
that reads the host's tables afresh. Two middleware instances sharing one Redis are the
two workers; the host app's own tables are the truth.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock
from safe_accounts.policy import model
from safe_accounts.relations import RelationshipDirectory
from safe_accounts.relations.invalidation import NOT_CONFIRMED

from .conftest import POLICY, drop_host_tables, seed

# Relationships are remembered far longer than the test runs (and the clock is frozen):
# only an invalidation can make a worker read them again.
CACHED = POLICY.replace("cache_seconds: 0", "cache_seconds: 300")


def host_app(engine: AsyncEngine) -> Starlette:
    """The app: a block removes the friendship, an accepted request adds one, in its tables."""

    async def dm(request: Request) -> JSONResponse:
        return JSONResponse({"sent": True}, status_code=201)

    async def block(request: Request) -> JSONResponse:
        me, other = request.headers["x-account-id"], (await request.json())["account"]
        async with engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM host_friendships WHERE (a = :me AND b = :other) OR (a = :other AND b = :me)"),
                {"me": me, "other": other},
            )
        return JSONResponse({"blocked": other})

    async def answer(request: Request) -> JSONResponse:
        me = request.headers["x-account-id"]
        async with engine.begin() as conn:
            sender = await conn.scalar(
                text("SELECT sender FROM host_requests WHERE id = :id"), {"id": str(request.path_params["request"])}
            )
            if request.path_params["answer"] == "accept":
                await conn.execute(
                    text("INSERT INTO host_friendships VALUES (:me, :other), (:other, :me)"),
                    {"me": me, "other": sender},
                )
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/api/v1/messages", dm, methods=["POST"]),
            Route("/api/blocks", block, methods=["POST"]),
            Route("/api/friend-requests/{request:int}/{answer}", answer, methods=["POST"]),
        ]
    )


class Worker:
    """One worker: a middleware instance in front of the app, and a client for it."""

    def __init__(self, middleware: SafeAccountsMiddleware) -> None:
        self.middleware = middleware
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://testserver")

    async def post(self, path: str, actor: str, body: Any) -> httpx.Response:
        return await self.client.post(path, json=body, headers={"x-account-id": actor})

    def cached_connected(self, actor: str, target: str) -> bool | None:
        assert self.middleware.runtime is not None
        return self.middleware.runtime.relationships.cached_connected(actor, target)

    async def close(self) -> None:
        await self.client.aclose()
        await self.middleware.close()


async def start_workers(
    count: int,
    engine: AsyncEngine,
    tmp_path: Path,
    database_url: str,
    redis_url: str | None,
    clock: FrozenClock,
    redis_prefix: str | None = None,
) -> list[Worker]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(CACHED)
    workers = []
    for _ in range(count):
        middleware = SafeAccountsMiddleware(
            host_app(engine), policy=policy, database_url=database_url, redis_url=redis_url,
            redis_prefix=redis_prefix, clock=clock, signals=None,
        )
        await middleware.start()
        workers.append(Worker(middleware))
    return workers


@pytest.fixture
async def tables(engine: AsyncEngine, clock: FrozenClock) -> AsyncIterator[AsyncEngine]:
    await seed(engine, clock)  # parent and kid are friends; request 7 is from adult
    yield engine
    await drop_host_tables(engine)


@pytest.fixture
async def two_workers(
    tables: AsyncEngine, tmp_path: Path, database_url: str, redis_url: str, redis_prefix: str, clock: FrozenClock
) -> AsyncIterator[list[Worker]]:
    # A prefix of the test's own: a run beside it on the same Redis is another app, whose
    # blocks of the same account names must not reach these workers.
    workers = await start_workers(2, tables, tmp_path, database_url, redis_url, clock, redis_prefix)
    yield workers
    for worker in workers:
        await worker.close()


@pytest.mark.redis
async def test_a_dm_through_another_worker_right_after_the_block_reads_the_fresh_relationship(
    two_workers: list[Worker],
) -> None:
    a, b = two_workers
    assert (await a.post("/api/v1/messages", "parent", {"to": "kid"})).status_code == 201
    assert a.cached_connected("parent", "kid") is True  # worker A remembers them connected

    block = await b.post("/api/blocks", "kid", {"account": "parent"})

    assert block.status_code == 200
    assert a.cached_connected("parent", "kid") is None
    dm = await a.post("/api/v1/messages", "parent", {"to": "kid"})
    assert dm.status_code == 403
    assert dm.json()["rule"] == "stranger-dm-to-minor"


@pytest.mark.redis
async def test_every_worker_has_forgotten_the_pair_before_the_blocks_answer_starts(
    two_workers: list[Worker],
) -> None:
    a, b = two_workers
    await a.post("/api/v1/messages", "parent", {"to": "kid"})
    await b.post("/api/v1/messages", "parent", {"to": "kid"})
    seen_when_answer_started: list[tuple[bool | None, bool | None]] = []
    body = b'{"account": "parent"}'
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/blocks", "raw_path": b"/api/blocks", "root_path": "",
        "query_string": b"", "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
        "headers": [(b"x-account-id", b"kid"), (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())],
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            seen_when_answer_started.append(
                (a.cached_connected("parent", "kid"), b.cached_connected("kid", "parent"))
            )

    await b.middleware(scope, receive, send)
    assert seen_when_answer_started == [(None, None)]


async def test_with_one_worker_and_no_redis_the_block_is_forgotten_locally(
    tables: AsyncEngine, tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    [worker] = await start_workers(1, tables, tmp_path, database_url, None, clock)
    try:
        assert (await worker.post("/api/v1/messages", "parent", {"to": "kid"})).status_code == 201
        assert (await worker.post("/api/blocks", "kid", {"account": "parent"})).status_code == 200
        dm = await worker.post("/api/v1/messages", "parent", {"to": "kid"})
    finally:
        await worker.close()
    assert dm.status_code == 403


@pytest.mark.redis
async def test_an_accepted_request_through_one_worker_lets_the_next_dm_through_another(
    two_workers: list[Worker],
) -> None:
    a, b = two_workers
    assert (await a.post("/api/v1/messages", "adult", {"to": "kid"})).status_code == 403
    assert a.cached_connected("adult", "kid") is False
    assert (await b.post("/api/friend-requests/7/accept", "kid", None)).status_code == 200
    assert a.cached_connected("adult", "kid") is None
    assert (await a.post("/api/v1/messages", "adult", {"to": "kid"})).status_code == 201


def dead_redis() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"redis://127.0.0.1:{sock.getsockname()[1]}/0"


async def test_a_worker_that_cannot_hear_other_workers_caches_no_relationship_and_still_answers_blocks(
    tables: AsyncEngine, tmp_path: Path, database_url: str, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="safe_accounts.relationships")
    [worker] = await start_workers(1, tables, tmp_path, database_url, dead_redis(), clock)
    try:
        assert (await worker.post("/api/v1/messages", "parent", {"to": "kid"})).status_code == 201
        cached = worker.cached_connected("parent", "kid")
        block = await worker.post("/api/blocks", "kid", {"account": "parent"})
        dm = await worker.post("/api/v1/messages", "parent", {"to": "kid"})
    finally:
        await worker.close()
    assert cached is None  # another worker's block could not reach this cache: nothing is kept
    # The app made the change: its answer is the client's, and the log says what was not confirmed.
    assert block.status_code == 200 and block.json() == {"blocked": "parent"}
    assert NOT_CONFIRMED in [r.msg for r in caplog.records]
    assert dm.status_code == 403


# A host lookup that answers only when the test lets it: a block can land while it runs.
GATE: dict[str, asyncio.Event] = {}


async def slow_connections(actor: str, targets: list[str]) -> list[str]:
    GATE["running"].set()
    await GATE["may_answer"].wait()
    return list(targets)  # what the table said before the block


async def test_a_lookup_that_a_block_overtakes_does_not_cache_what_it_read() -> None:
    GATE.update(running=asyncio.Event(), may_answer=asyncio.Event())
    config = model.Relationships(
        connected=model.Lookup(callable="tests.middleware.test_block_invalidation:slow_connections"), cache_seconds=300
    )
    relationships = RelationshipDirectory(config, None, clock=FrozenClock())
    lookup = asyncio.create_task(relationships.connected_among("parent", ["kid"]))
    await GATE["running"].wait()
    assert await relationships.forget_everywhere(["kid", "parent"])
    GATE["may_answer"].set()
    assert await lookup == {"kid"}  # the DM that was being decided when the block came
    assert relationships.cached_connected("parent", "kid") is None  # but no later one
