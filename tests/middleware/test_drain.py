"""`await middleware.drain()`: what a test or a simulation reads right after a request is
already written - decision-log rows, signal events and the alerts they raise, reports, and
the alerts' deliveries - without reaching into the middleware's private writers.

The background writers here are set to wait an hour between passes, so what these tests
read is written by `drain`, not by a timer that happened to fire.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts import FrozenClock, SafeAccountsMiddleware
from safe_accounts.alerts.tables import alerts
from safe_accounts.decisions.table import decision_log
from safe_accounts.moderation.tables import reports
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts

from .conftest import HostApp, Wrapped, drop_host_tables, seed

AN_HOUR = 3600.0


@pytest.fixture
async def slow_writers(
    engine: AsyncEngine, database_url: str, policy_file: Path, clock: FrozenClock
) -> AsyncIterator[tuple[Wrapped, list[Any]]]:
    await seed(engine, clock)
    alerted: list[Any] = []
    host = HostApp()
    middleware = SafeAccountsMiddleware(
        host.build(), policy=policy_file, database_url=database_url, clock=clock,
        signals=attach_grooming_alerts(
            on_alert=alerted.append, flush_interval=AN_HOUR, outbox_poll_interval=AN_HOUR
        ),
    )
    runtime = await middleware.start()
    for writer in (runtime.decisions, runtime.reports):
        writer._interval = AN_HOUR  # noqa: SLF001 - the test's premise: nothing written unasked
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Wrapped(host, middleware, client), alerted
    await middleware.close()
    await drop_host_tables(engine)


async def rows(w: Wrapped, *columns: Any) -> list[tuple[Any, ...]]:
    async with w.middleware.engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(select(*columns))).all()]


async def test_after_drain_the_refusals_their_alert_its_delivery_and_a_report_are_all_written(
    slow_writers: tuple[Wrapped, list[Any]],
) -> None:
    w, alerted = slow_writers
    for child in ("kid", "young", "teen"):
        assert (await w.post("/api/v1/messages", "adult", json={"to": child})).status_code == 403
    assert (await w.post("/api/reports", "kid", json={"account": "adult"})).status_code == 200

    await w.middleware.drain()

    refused = await rows(w, decision_log.c.actor_id, decision_log.c.target_id)
    assert sorted(refused) == [("adult", "kid"), ("adult", "teen"), ("adult", "young")]
    assert await rows(w, alerts.c.subject, alerts.c.signal) == [("adult", "denied-dms-to-minors")]
    assert [(a.subject, a.signal) for a in alerted] == [("adult", "denied-dms-to-minors")]
    assert await rows(w, reports.c.reporter_id, reports.c.reported_id) == [("kid", "adult")]
    health = (await w.get("/.well-known/safe-accounts/health", None)).json()
    assert health["decision_log"]["queued"] == 0 and health["reports"]["queued"] == 0
    assert health["alerts"]["signals"]["queued"] == 0


async def test_drain_before_start_and_twice_in_a_row_is_harmless(
    database_url: str, policy_file: Path, clock: FrozenClock
) -> None:
    middleware = SafeAccountsMiddleware(
        HostApp().build(), policy=policy_file, database_url=database_url, clock=clock
    )
    await middleware.drain()  # nothing started, nothing queued
    await middleware.start()
    await middleware.drain()
    await middleware.drain()
    await middleware.close()
