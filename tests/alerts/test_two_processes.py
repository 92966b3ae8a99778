"""Exactly once across processes: two OS processes cross one threshold at the same moment."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.alerts import AlertService
from safe_accounts.alerts.tables import alerts
from safe_accounts.db.engine import make_engine
from safe_accounts.signals import Crossing

from .crossings import crossing

WORKER = Path(__file__).with_name("crossing_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def run_two(redis_url: str, prefix: str, database_url: str, *extra: str) -> list[dict]:  # type: ignore[type-arg]
    start_at = f"{time.time() + 3.0:.3f}"  # both past their imports by then
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), redis_url, prefix, database_url, start_at, name, *extra],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for name in ("first", "second")
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


async def alert_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(alerts))).scalar_one())


@pytest.mark.redis
@pytest.mark.slow
async def test_two_processes_on_one_redis_raise_exactly_one_alert(
    redis_url: str, redis_prefix: str, database_url: str, engine: AsyncEngine
) -> None:
    results = await asyncio.to_thread(run_two, redis_url, redis_prefix, database_url)
    assert sum(len(r["crossings"]) for r in results) == 1, results
    assert sum(len(r["alerts"]) for r in results) == 1, results
    assert await alert_rows(engine) == 1
    assert all(r["health"]["recorded"] == 20 and r["health"]["queued"] == 0 for r in results)


@pytest.mark.redis
@pytest.mark.slow
async def test_two_processes_cross_each_baseline_signal_once_and_raise_one_alert(
    redis_url: str, redis_prefix: str, database_url: str, engine: AsyncEngine
) -> None:
    # The shipped baseline's signals, the rejection rate included: requests and rejections
    # from both processes at once; every signal that crosses crosses once in all. (Which
    # of those crossings raise an alert and which join it is the alert service's: two
    # crossings of different signals folded at the same instant may raise two - see
    # docs/signals.md, "No alert storms".)
    results = await asyncio.to_thread(run_two, redis_url, redis_prefix, database_url, "baseline")
    crossed = [s for r in results for s in r["signals"]]
    assert "rejection-rate-from-minors" in crossed and "rejected-by-minors" in crossed, results
    # Every signal issue 14 added that these events reach: the network context's three, the
    # month's rejections and the early-rejection rate.
    for signal in (
        "scattered-rejections-by-minors", "scattered-requests-from-minors", "requests-through-new-ties",
        "rejected-by-minors-30d", "early-rejections-from-minors",
    ):
        assert signal in crossed, (signal, results)
    assert len(crossed) == len(set(crossed)), results
    assert 1 <= await alert_rows(engine) <= len(crossed)


@pytest.mark.slow
async def test_without_redis_the_sql_constraint_still_stores_one_alert(
    database_url: str, engine: AsyncEngine
) -> None:
    # Two in-process stores know nothing of each other: each sees its own crossing,
    # and the unique (subject, signal, window) constraint keeps one alert.
    results = await asyncio.to_thread(run_two, "none", "unused:", database_url)
    assert sum(len(r["crossings"]) for r in results) == 2, results
    assert sum(len(r["alerts"]) for r in results) == 1, results
    assert await alert_rows(engine) == 1


async def open_alerts_per_account(engine: AsyncEngine) -> tuple[Counter[str], list[dict]]:  # type: ignore[type-arg]
    async with engine.connect() as conn:
        rows = (await conn.execute(select(alerts.c.subject, alerts.c.counts))).all()
    return Counter(r.subject for r in rows), [dict(r.counts) for r in rows]


@pytest.mark.slow
async def test_two_processes_raising_different_signals_for_one_account_at_once_leave_one_alert_holding_both(
    database_url: str, engine: AsyncEngine
) -> None:
    # Each process crosses its own signal for the same accounts at the same instant: both
    # look for the account's open alert, find none, and store one. The store keeps one
    # alert per account while it is not resolved; the second joins it.
    results = await asyncio.to_thread(run_two, "none", "unused:", database_url, "fold-race")
    accounts = results[0]["accounts"]
    per_account, counts = await open_alerts_per_account(engine)
    assert per_account == {f"adult-{i}": 1 for i in range(accounts)}
    assert sum(len(r["alerts"]) for r in results) == accounts
    assert all(c["crossings"] == 2 for c in counts), counts


class PausedBeforeStoring(AlertService):
    """Waits at `gate` once, after looking for the account's open alert and before storing
    a new one: where two workers interleave when they race."""

    def __init__(self, engine: AsyncEngine, gate: asyncio.Barrier) -> None:
        super().__init__(engine)
        self._gate: asyncio.Barrier | None = gate

    async def _fold_into_live_alert(self, crossing: Crossing, now: float) -> str | None:
        folded = await super()._fold_into_live_alert(crossing, now)
        gate, self._gate = self._gate, None
        if gate is not None:
            await gate.wait()
        return folded


async def test_two_workers_that_both_found_no_open_alert_still_store_one_alert_for_the_account(
    database_url: str, engine: AsyncEngine
) -> None:
    # Two engines (two pools, as two worker processes have) interleaved at the worst moment.
    gate = asyncio.Barrier(2)
    other = make_engine(database_url)
    try:
        raised = await asyncio.gather(
            PausedBeforeStoring(engine, gate).raise_alert(crossing(signal="rejected-by-minors")),
            PausedBeforeStoring(other, gate).raise_alert(crossing(signal="blocked-by-minors")),
        )
    finally:
        await other.dispose()
    assert len([a for a in raised if a is not None]) == 1
    per_account, counts = await open_alerts_per_account(engine)
    assert per_account == {"adult-1": 1}
    assert counts[0]["crossings"] == 2
    assert {"rejected-by-minors", "blocked-by-minors"} & set(counts[0]) and counts[0]["count"] == 5
