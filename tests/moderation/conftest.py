"""Moderation fixtures: a frozen clock, restrictions on the test's engine, items to act on."""

from __future__ import annotations

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
    engine: AsyncEngine, reporter: str, band: str, reported: str, at: float
) -> str:
    log = ReportLog(engine)
    report_id = log.record(
        reporter_id=reporter, reporter_band=band, reported_id=reported, reported_band="adult", at=at
    )
    await log.close()
    return report_id


