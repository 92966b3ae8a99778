"""Redis that stops answering mid-run (a hung server: connections accepted, no reply).

Nothing on the request path waits for Redis: enforcement decides from in-process caches,
and grooming-signal events are queued and written by a background task. So while Redis
hangs, every request is answered as usual and well inside the Redis client's own timeout
(a request that waited on Redis would take at least that long), and no exception reaches a
client. The events wait in the recorder's spool and are written in order when Redis
answers again; the crossings they cause become alerts exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock
from safe_accounts.db import migrate
from safe_accounts.db.engine import make_engine
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts
from tests.middleware.conftest import HostApp, Wrapped, seed

from .stalling_proxy import StallingProxy
from .support import alert_keys, eventually

pytestmark = pytest.mark.redis

CHILDREN = ("kid", "young", "teen")
# Below the Redis client's socket timeout (2 s in the runtime and the signal store): a
# request that waited on a hung Redis could not be answered inside it.
REQUEST_BOUND = 1.5


@pytest.fixture
async def behind_a_stalling_redis(
    tmp_path: Path, redis_url: str, redis_prefix: str, policy_file: Path, clock: FrozenClock
) -> AsyncIterator[tuple[Wrapped, StallingProxy]]:
    host_port = redis_url.split("//", 1)[1].split("/", 1)[0]
    proxy = StallingProxy(host_port.rsplit(":", 1)[0], int(host_port.rsplit(":", 1)[1]))
    await proxy.start()
    url = f"sqlite+aiosqlite:///{tmp_path / 'stalled.db'}"
    await migrate.upgrade_url(url)
    engine = make_engine(url)
    await seed(engine, clock)
    await engine.dispose()
    host = HostApp()
    middleware = SafeAccountsMiddleware(
        host.build(), policy=policy_file, database_url=url, redis_url=proxy.url, redis_prefix=redis_prefix,
        clock=clock, signals=attach_grooming_alerts(flush_interval=0.01),
    )
    await middleware.start()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://testserver") as client:
        yield Wrapped(host, middleware, client), proxy
    proxy.release()
    await middleware.close()
    await proxy.close()


async def test_a_hung_redis_delays_no_request_and_loses_no_event(
    behind_a_stalling_redis: tuple[Wrapped, StallingProxy],
) -> None:
    w, proxy = behind_a_stalling_redis
    runtime = w.middleware.runtime
    assert runtime is not None
    alerts = runtime.alerts
    # Warm the caches, and see Redis work.
    for child in CHILDREN:
        assert (await w.get(f"/api/accounts/{child}", child)).status_code == 200
    assert (await w.post("/api/v1/messages", "adult", json={"to": "kid"})).status_code == 403
    await alerts.recorder.flush()
    assert alerts.health()["signals"]["recorded"] == 1

    proxy.stall()
    statuses: list[int] = []
    for child in CHILDREN:
        async with asyncio.timeout(REQUEST_BOUND):
            statuses.append((await w.post("/api/v1/messages", "adult", json={"to": child})).status_code)
            statuses.append((await w.post("/api/blocks", child, json={"account": "adult"})).status_code)
            statuses.append((await w.get("/api/search", child)).status_code)
            statuses.append((await w.get("/hello", child)).status_code)
    assert statuses == [403, 200, 200, 200] * len(CHILDREN)

    # The background writer notices the hang through its timeout; the events wait.
    async def noticed() -> bool:
        return alerts.health()["signals"]["store_reachable"] is False

    await eventually(noticed, what="the recorder notices that Redis does not answer")
    signals = alerts.health()["signals"]
    assert signals["queued"] == 2 * len(CHILDREN) and signals["overflowed"] == 0
    assert await alert_keys(runtime.engine) == []
    # Still no wait on the request path while the writer is retrying.
    async with asyncio.timeout(REQUEST_BOUND):
        assert (await w.post("/api/v1/messages", "other-adult", json={"to": "kid"})).status_code == 403

    proxy.release()

    async def caught_up() -> bool:
        health = alerts.health()["signals"]
        return health["queued"] == 0 and health["crossings_pending"] == 0 and health["store_reachable"]

    await eventually(caught_up, what="the spooled events are written once Redis answers")
    signals = alerts.health()["signals"]
    assert (signals["recorded"], signals["overflowed"], signals["rejected"]) == (2 + 2 * len(CHILDREN), 0, 0)
    assert await alert_keys(runtime.engine) == [("adult", "blocked-by-minors"), ("adult", "denied-dms-to-minors")]
    assert runtime.restrictions.is_restricted("adult")
