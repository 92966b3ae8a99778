"""Band changes reach every process's cache through Redis pub/sub; without Redis, the TTL."""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.bands import BandDirectory, OwnBandStore
from safe_accounts.bands.age import AgeBand
from safe_accounts.bands.invalidation import (
    PUBLISH_FAILED,
    REDIS_BACK,
    REDIS_UNREACHABLE,
    BandInvalidations,
)
from safe_accounts.clock import FrozenClock
from safe_accounts.db import migrate
from safe_accounts.db.engine import make_engine
from safe_accounts.policy.model import BandCacheSettings

pytestmark = pytest.mark.redis

SETTINGS = BandCacheSettings(size=1000, ttl_seconds=300)


async def eventually(condition: Callable[[], bool], what: str, within: float = 15.0) -> None:
    """Wait for something another process causes; the bound only keeps a broken run finite."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.01)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'bands.db'}")
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def clients(redis_url: str) -> AsyncIterator[list[aioredis.Redis]]:
    """One Redis client per simulated process, with a read timeout as the runtime sets one."""
    made = [aioredis.Redis.from_url(redis_url, socket_timeout=0.5) for _ in range(3)]
    yield made
    for client in made:
        await client.aclose()


@pytest.fixture
async def processes(
    sqlite_engine: AsyncEngine, clients: list[aioredis.Redis], redis_prefix: str
) -> AsyncIterator[list[BandDirectory]]:
    """Three 'processes': each its own directory and Redis connection, one database."""
    directories = [
        BandDirectory(
            OwnBandStore(sqlite_engine), cache=SETTINGS, redis=client, channel_prefix=redis_prefix
        )
        for client in clients
    ]
    for directory in directories:
        await directory.start()
    yield directories
    for directory in directories:
        await directory.close()


async def test_a_change_in_one_process_reaches_the_others_caches(
    processes: list[BandDirectory],
) -> None:
    a, b, c = processes
    assert all(d.subscribed for d in processes)
    assert (await b.get("kid")).band is AgeBand.UNKNOWN
    assert (await c.get("kid")).band is AgeBand.UNKNOWN
    await a.set("kid", band=AgeBand.UNDER_13)
    await eventually(
        lambda: b.cached("kid") is None and c.cached("kid") is None, "b and c forget kid"
    )
    assert (await b.get("kid")).band is AgeBand.UNDER_13
    assert (await c.get("kid")).band is AgeBand.UNDER_13


async def test_a_quiet_channel_is_not_an_outage(
    processes: list[BandDirectory], caplog: pytest.LogCaptureFixture
) -> None:
    """Waiting for changes outlasts the client's read timeout without dropping anything."""
    a, b, _ = processes
    await b.get("kid")
    await asyncio.sleep(1.0)  # twice the clients' socket_timeout, with nothing published
    assert b.subscribed and b.cached("kid") is not None
    await a.set("kid", band=AgeBand.B16_17)
    await eventually(lambda: b.cached("kid") is None, "b hears a's change")
    assert REDIS_UNREACHABLE not in [r.msg for r in caplog.records]


async def test_the_listener_outlasts_a_short_read_timeout(
    redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A subscriber idle for several of its client's read timeouts reports no outage, drops
    nothing, and still hears the next change. (redis-py 5.x reads a wait with no timeout of
    its own with the socket timeout and raises: `make test-lowest` runs this on 5.x.)"""
    caplog.set_level(logging.INFO, logger="safe_accounts.bands")
    listening = aioredis.Redis.from_url(redis_url, socket_timeout=0.2)
    publishing = aioredis.Redis.from_url(redis_url, socket_timeout=0.2)
    heard: list[list[str]] = []
    reconnects: list[None] = []

    def listener(client: aioredis.Redis) -> BandInvalidations:
        return BandInvalidations(
            client,
            f"{redis_prefix}bands",
            on_change=lambda ids: heard.append(list(ids)),
            on_reconnect=lambda: reconnects.append(None),
            ttl_seconds=300,
        )

    quiet, loud = listener(listening), listener(publishing)
    try:
        await quiet.start()
        assert quiet.subscribed
        await asyncio.sleep(1.5)  # more than seven read timeouts with nothing published
        assert quiet.subscribed
        assert reconnects == []  # a reconnect would have cleared the cache
        await loud.publish(["kid"])
        await eventually(lambda: heard == [["kid"]], "the quiet listener hears the change")
    finally:
        await quiet.close()
        await listening.aclose()
        await publishing.aclose()
    assert [r.msg for r in caplog.records] == []


async def test_a_process_keeps_its_own_fresh_entry(processes: list[BandDirectory]) -> None:
    a, b, _ = processes
    await a.set("kid", band=AgeBand.B13_15)
    await b.get("other")
    await b.set("other", band=AgeBand.ADULT)  # published after a's own message
    await eventually(lambda: a.cached("other") is None, "a hears b's change")
    # Messages arrive in order, so a has seen its own message by now, and ignored it.
    assert a.cached("kid").band is AgeBand.B13_15  # type: ignore[union-attr]


async def test_ids_changed_in_bulk_are_forgotten_everywhere(processes: list[BandDirectory]) -> None:
    a, b, _ = processes
    ids = [f"acct-{i}" for i in range(300)]
    await b.get_many(ids)
    await a.forget(ids)
    await eventually(lambda: all(b.cached(i) is None for i in ids), "b forgets all 300")


async def test_an_unreachable_redis_is_logged_once_and_the_ttl_still_applies(
    sqlite_engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FrozenClock()
    dead = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    writer = BandDirectory(
        OwnBandStore(sqlite_engine, clock=clock), cache=SETTINGS, clock=clock, redis=dead
    )
    reader = BandDirectory(
        OwnBandStore(sqlite_engine, clock=clock), cache=SETTINGS, clock=clock, redis=dead
    )
    caplog.set_level(logging.INFO, logger="safe_accounts.bands")
    try:
        await writer.start()
        await reader.start()
        assert not reader.subscribed
        assert (await reader.get("kid")).band is AgeBand.UNKNOWN
        await writer.set("kid", band=AgeBand.UNDER_13)  # publishing fails, quietly
        await writer.set("kid", band=AgeBand.B13_15)
        assert (await reader.get("kid")).band is AgeBand.UNKNOWN  # stale until the TTL
        clock.advance(SETTINGS.ttl_seconds)
        assert (await reader.get("kid")).band is AgeBand.B13_15
    finally:
        await writer.close()
        await reader.close()
        await dead.aclose()
    messages = [r.msg for r in caplog.records if r.levelno == logging.WARNING]
    assert messages.count(REDIS_UNREACHABLE) == 2  # once per process
    assert messages.count(PUBLISH_FAILED) == 1  # once for two failed publishes


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
async def test_after_an_outage_the_subscription_returns_and_the_cache_is_dropped(
    sqlite_engine: AsyncEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    command = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--dir",
        str(tmp_path),
    ]

    async def started() -> subprocess.Popen[bytes]:
        # Popen returns once the process is forked; the probe below is what waits, asynchronously.
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: ASYNC220
        probe = aioredis.Redis.from_url(f"redis://127.0.0.1:{port}/0")
        try:
            for _ in range(500):
                try:
                    await probe.ping()
                    return server
                except (OSError, aioredis.ConnectionError):
                    await asyncio.sleep(0.02)
        finally:
            await probe.aclose()
        server.kill()
        raise AssertionError("redis-server did not start")

    caplog.set_level(logging.INFO, logger="safe_accounts.bands")
    server = await started()
    client = aioredis.Redis.from_url(f"redis://127.0.0.1:{port}/0")
    directory = BandDirectory(OwnBandStore(sqlite_engine), cache=SETTINGS, redis=client)
    try:
        await directory.start()
        assert directory.subscribed
        await directory.get("kid")
        server.terminate()
        server.wait()
        await eventually(lambda: not directory.subscribed, "the outage is noticed")
        assert directory.cached("kid") is not None  # meanwhile the TTL rules
        server = await started()
        await eventually(lambda: directory.subscribed, "the subscription comes back", within=60)
        assert directory.cached("kid") is None  # changes may have been missed: start afresh
    finally:
        await directory.close()
        await client.aclose()
        server.terminate()
        server.wait()
    messages = [r.msg for r in caplog.records]
    assert messages.count(REDIS_UNREACHABLE) == 1
    assert messages.count(REDIS_BACK) == 1
