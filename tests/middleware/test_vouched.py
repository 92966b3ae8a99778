"""Vouched accounts end to end (`relationships.vouched`): a coach the platform vouches for
is not alerted by `scattered-rejections-by-minors` nor held back by the cap on requests to
strangers' children; a vouch withdrawn counts from the next answer; a lookup that fails
vouches for nobody. On both signal stores (in process, Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts import AgeBand, SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts

from .conftest import HostApp, Wrapped, drop_host_tables, seed
from .test_network_context import CIRCLE, EXTRA_FRIENDS, EXTRA_STRANGERS, NOW, STRANGERS, TIES_POLICY

VOUCHED_POLICY = TIES_POLICY.replace(
    "  cache_seconds: 0\n",
    "  vouched:\n    sql: SELECT 1 FROM host_vouched WHERE account = :account\n  cache_seconds: 0\n",
    1,
).replace(
    # As the demo policy does: the cap counts neither children in the circle nor the
    # requests of vouched accounts.
    "community_ties: {max: 0}, refused: false}",
    "community_ties: {max: 0}, refused: false, vouched: false}",
)
assert "host_vouched" in VOUCHED_POLICY and "vouched: false" in VOUCHED_POLICY


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture(params=["in-process", pytest.param("redis", marks=pytest.mark.redis)])
async def wired(
    request: pytest.FixtureRequest, engine: AsyncEngine, database_url: str, tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[Wrapped]:
    redis_url = redis_prefix = None
    if request.param == "redis":
        redis_url = request.getfixturevalue("redis_url")
        redis_prefix = request.getfixturevalue("redis_prefix")
    await seed(engine, clock)
    async with engine.begin() as conn:
        await conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS host_circle (actor VARCHAR(64), member VARCHAR(64), since FLOAT)"
        )
        await conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS host_vouched (account VARCHAR(64))")
        await conn.exec_driver_sql("DELETE FROM host_circle")
        await conn.exec_driver_sql("DELETE FROM host_vouched")
        await conn.exec_driver_sql("INSERT INTO host_vouched VALUES ('coach')")
        for actor, member, since in CIRCLE:
            await conn.exec_driver_sql(f"INSERT INTO host_circle VALUES ('{actor}', '{member}', {since})")
        for a, b in EXTRA_FRIENDS:
            await conn.exec_driver_sql(f"INSERT INTO host_friendships VALUES ('{a}', '{b}'), ('{b}', '{a}')")
        for i in range(1, len(STRANGERS) + 3):
            await conn.exec_driver_sql(f"INSERT INTO host_requests VALUES ('{200 + i}', 'coach')")
    policy = tmp_path / "policy.yaml"
    policy.write_text(VOUCHED_POLICY)
    host = HostApp()
    middleware = SafeAccountsMiddleware(
        host.build(), policy=policy, database_url=database_url, clock=clock,
        redis_url=redis_url, redis_prefix=redis_prefix, signals=attach_grooming_alerts(flush_interval=0.01),
    )
    runtime = await middleware.start()
    for child in [*STRANGERS, *EXTRA_STRANGERS]:
        await runtime.bands.set(child, band=AgeBand.B13_15)
    await runtime.bands.set("coach", band=AgeBand.ADULT)
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Wrapped(host, middleware, client)
    await middleware.close()
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE IF EXISTS host_circle")
        await conn.exec_driver_sql("DROP TABLE IF EXISTS host_vouched")
    await drop_host_tables(engine)



async def _reject(w: Wrapped, child: str) -> None:
    request_id = 200 + STRANGERS.index(child) + 1
    assert (await w.post(f"/api/friend-requests/{request_id}/reject", child)).status_code == 200
    await w.middleware.drain()


async def test_rejections_of_a_vouched_coach_by_children_outside_the_circle_raise_no_alert(wired: Wrapped) -> None:
    for child in STRANGERS:
        await _reject(wired, child)
    assert "scattered-rejections-by-minors" not in [a.signal for a in await wired.alerts.service.list()]


async def test_a_vouch_withdrawn_counts_from_the_next_answer(wired: Wrapped, engine: AsyncEngine) -> None:
    await _reject(wired, STRANGERS[0])
    await _reject(wired, STRANGERS[1])
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DELETE FROM host_vouched")
    await _reject(wired, STRANGERS[2])
    assert await wired.alerts.service.list() == []  # one rejection counted so far
    await _reject(wired, STRANGERS[3])
    raised = await wired.alerts.service.list()
    assert [(a.subject, a.signal) for a in raised] == [("coach", "scattered-rejections-by-minors")]


async def test_a_lookup_that_fails_vouches_for_nobody(wired: Wrapped, engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE host_vouched")
    await _reject(wired, STRANGERS[0])
    await _reject(wired, STRANGERS[1])
    raised = await wired.alerts.service.list()
    assert [(a.subject, a.signal) for a in raised] == [("coach", "scattered-rejections-by-minors")]


async def test_the_cap_does_not_hold_back_a_vouched_coach(wired: Wrapped) -> None:
    # Six children outside the circle in one day: the seventh would be held back were the
    # coach not vouched for (tests/middleware/test_network_context.py).
    for child in [*STRANGERS, *EXTRA_STRANGERS]:
        assert (await wired.post("/api/friend-requests", "coach", json={"to": child})).status_code == 201
        await wired.middleware.drain()
