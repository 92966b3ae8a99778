"""Moderation fixtures: a frozen clock, restrictions on the test's engine, items to act on,
and the host's people for the display lookup."""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.alerts.restrictions import Restrictions
from safe_accounts.clock import FrozenClock
from safe_accounts.moderation.reports import ReportLog

from .records import T0, alert


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
async def restrictions(engine: AsyncEngine, clock: FrozenClock) -> AsyncIterator[Restrictions]:
    restrictions = Restrictions(engine, clock=clock, refresh_interval=3600)
    await restrictions.start()
    yield restrictions
    await restrictions.close()


async def raise_alert(
    engine: AsyncEngine, id: str, subject: str, at: float, signal: str = "rejected-by-minors"
) -> None:
    from safe_accounts.alerts.tables import alerts

    async with engine.begin() as conn:
        await conn.execute(alerts.insert(), [alert(id, subject, signal, at)])


async def file_report(
    engine: AsyncEngine, reporter: str, band: str, reported: str, at: float, text: str | None = None
) -> str:
    log = ReportLog(engine)
    report_id = log.record(
        reporter_id=reporter,
        reporter_band=band,
        reported_id=reported,
        reported_band="adult",
        at=at,
        text=text,
    )
    await log.close()
    return report_id


# A policy whose display lookup reads the host's own people table (host_people).
DISPLAY_POLICY = textwrap.dedent(
    """
    version: 1
    name: moderation-test
    extends: baseline
    moderation:
      display:
        sql: SELECT id, name, handle FROM host_people WHERE id IN :accounts
    """
)
PEOPLE = [("adult-x", "Alex Turner", "alex"), ("kid", "Kim Lee", "kim"), ("mod-1", "Mo Reyes", "mo")]


@contextlib.asynccontextmanager
async def host_people(engine: AsyncEngine) -> AsyncIterator[None]:
    """The host app's people, for `DISPLAY_POLICY`; dropped afterwards."""
    async with engine.begin() as conn:
        await conn.exec_driver_sql(
            "CREATE TABLE host_people (id VARCHAR(64), name VARCHAR(80), handle VARCHAR(40))"
        )
        for row in PEOPLE:
            await conn.exec_driver_sql(
                "INSERT INTO host_people VALUES ($1, $2, $3)"
                if conn.dialect.name == "postgresql"
                else "INSERT INTO host_people VALUES (?, ?, ?)",
                row,
            )
    try:
        yield
    finally:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("DROP TABLE host_people")
