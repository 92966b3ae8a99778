"""Moderation fixtures: a frozen clock, restrictions on the test's engine, items to act on."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.alerts.restrictions import Restrictions
from safe_accounts.cli import main
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


@dataclass
class Ran:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run `safe-accounts ARGS...` in this process, through the real entry point."""
    monkeypatch.delenv("SAFE_ACCOUNTS_DATABASE_URL", raising=False)
    monkeypatch.delenv("SAFE_ACCOUNTS_REDIS_URL", raising=False)

    def run(*args: str) -> Ran:
        monkeypatch.setattr(sys, "argv", ["safe-accounts", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run
