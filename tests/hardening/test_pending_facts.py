"""An event the app acknowledged is never dropped, and is counted with the facts it really has.

When a lookup runs out of its time budget on a route whose answer does not wait for us (a
block, an answer to a contact request), the app still answers 2xx. The event it
acknowledged waits, with what the request knew, for the writer to read the facts the
request could not (the bands; the requesters an answer is about), and is then counted as
if they had been read on time: with the children's own bands, at the time it happened,
raising its alert once. Here the lookups time out for real: the tables they read are
locked on PostgreSQL (a store that stalls), and unlocked to let the store answer again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from safe_accounts import AgeBand, SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock
from safe_accounts.db.engine import make_engine
from safe_accounts.db.metadata import metadata
from safe_accounts.runtime import Runtime
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts
from tests.middleware.conftest import PRODUCTION_POLICY, HostApp, Wrapped, drop_host_tables, seed

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

BANDS = "safe_accounts_age_bands"
CHILDREN = ["kid", "young", "teen", "kid-friend", "fifth-child"]


@pytest.fixture
async def stalled(
    tmp_path: Path, postgres_database: str, redis_url: str, redis_prefix: str, clock: FrozenClock
) -> AsyncIterator[Wrapped]:
    """The host app behind the middleware on PostgreSQL and Redis, with the production time
    budget: a lookup that waits on a locked table runs out of it."""
    engine = make_engine(postgres_database)
    await seed(engine, clock)
    async with engine.begin() as conn:
        for i, _child in enumerate(CHILDREN, start=1):
            await conn.exec_driver_sql(f"INSERT INTO host_requests VALUES ('{100 + i}', 'parent')")
    policy = tmp_path / "policy.yaml"
    policy.write_text(PRODUCTION_POLICY)
    host = HostApp()
    middleware = SafeAccountsMiddleware(
        host.build(), policy=policy, database_url=postgres_database, redis_url=redis_url,
        redis_prefix=redis_prefix, clock=clock, signals=attach_grooming_alerts(flush_interval=0.01),
    )
    runtime = await middleware.start()
    await runtime.bands.set("fifth-child", band=AgeBand.UNDER_13)
    await runtime.bands.forget(["fifth-child"])  # read from the store like the others
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://t") as client:
        yield Wrapped(host, middleware, client)
    await middleware.close()
    await drop_host_tables(engine)
    async with engine.begin() as conn:  # the PostgreSQL database is the session's
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())
    await engine.dispose()


@asynccontextmanager
async def locked(database_url: str, *tables: str) -> AsyncIterator[AsyncConnection]:
    """Every read of `tables` waits until the block ends: a store that does not answer."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            transaction = await conn.begin()
            await conn.exec_driver_sql(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
            try:
                yield conn
            finally:
                await transaction.rollback()
    finally:
        await engine.dispose()


def _runtime(w: Wrapped) -> Runtime:
    assert w.middleware.runtime is not None
    return w.middleware.runtime


async def _health(w: Wrapped) -> dict[str, Any]:
    response = await w.client.get("/.well-known/safe-accounts/health")
    assert response.status_code == 200
    report: dict[str, Any] = response.json()
    return report


async def _alerts(w: Wrapped) -> list[tuple[str, str, list[dict[str, Any]]]]:
    alerts = _runtime(w).alerts
    assert alerts is not None
    return [(a.subject, a.signal, list(a.evidence)) for a in await alerts.service.list()]


async def test_blocks_acknowledged_while_the_bands_stalled_count_with_the_childrens_bands_once_they_are_read(
    stalled: Wrapped, postgres_database: str, clock: FrozenClock
) -> None:
    w = stalled
    blocked_at = clock.now()
    async with locked(postgres_database, BANDS):
        # Two children and an adult block `adult`: three distinct blockers, two of them minors.
        for blocker in ("kid", "young", "other-adult"):
            assert (await w.post("/api/blocks", blocker, json={"account": "adult"})).status_code == 200
        health = await _health(w)
        assert health["pending_facts"]["pending"] == 3
        assert health["pending_facts"]["oldest_at"] == blocked_at
        # Draining while the store still stalls returns; the events stay pending, not lost.
        await w.middleware.drain()
        health = await _health(w)
        assert health["pending_facts"]["pending"] == 3
        assert health["pending_facts"]["retrying"] == 3
        assert health["alerts"]["signals"]["recorded"] == 0
    clock.advance(3600)  # read an hour later: still counted when it happened
    await w.middleware.drain()
    health = await _health(w)
    assert health["pending_facts"]["pending"] == 0
    assert health["pending_facts"]["events"] == 3
    assert health["alerts"]["signals"]["recorded"] == 3
    # The adult's block counts as an adult's: two children are not the signal's three.
    assert await _alerts(w) == []
    assert (await w.post("/api/blocks", "teen", json={"account": "adult"})).status_code == 200
    await w.middleware.drain()
    [(subject, signal, evidence)] = await _alerts(w)
    assert (subject, signal) == ("adult", "blocked-by-minors")
    assert sorted((e["other_band"], e["at"]) for e in evidence) == sorted([
        (AgeBand.B13_15.value, blocked_at), (AgeBand.UNDER_13.value, blocked_at),
        (AgeBand.B16_17.value, blocked_at + 3600),
    ])


async def test_rejections_whose_requesters_could_not_be_read_raise_the_alert_once_the_lookup_answers(
    stalled: Wrapped, postgres_database: str
) -> None:
    """`request_sender` (a SQL lookup in the app's tables) names the requester: while it
    stalls the answer goes through, and nothing is known of whom it rejected."""
    w = stalled
    async with locked(postgres_database, "host_requests", BANDS):
        for i, child in enumerate(CHILDREN, start=1):
            assert (await w.post(f"/api/friend-requests/{100 + i}/reject", child)).status_code == 200
        assert [payload["answer"] for payload in w.reached("answer")] == ["reject"] * 5
        health = await _health(w)
        assert health["pending_facts"]["pending"] == 5
        assert health["alerts"]["signals"]["recorded"] == 0
    await w.middleware.drain()
    health = await _health(w)
    assert health["pending_facts"]["pending"] == 0
    assert health["alerts"]["signals"]["recorded"] == 5
    alerts = await _alerts(w)
    assert [(subject, signal) for subject, signal, _ in alerts] == [("parent", "rejected-by-minors")]
    await w.middleware.drain()  # drained again: nothing counted twice
    assert len(await _alerts(w)) == 1
    assert _runtime(w).restrictions.is_restricted("parent")


async def test_what_is_still_pending_at_shutdown_is_recorded_with_what_is_known_and_said(
    stalled: Wrapped, postgres_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    w = stalled
    runtime = _runtime(w)
    assert runtime.pending is not None
    async with locked(postgres_database, BANDS):
        assert (await w.post("/api/blocks", "kid", json={"account": "adult"})).status_code == 200
        assert runtime.pending.health()["pending"] == 1
        await runtime.pending.close()  # the store does not come back in time
    assert runtime.pending.health()["pending"] == 0
    assert runtime.pending.health()["recorded_as_known"] == 1
    assert "recorded with the facts known" in caplog.text
    await w.middleware.drain()
    assert _runtime(w).alerts.health()["signals"]["recorded"] == 1  # type: ignore[union-attr]
