"""Exactly once across processes: two OS processes cross one threshold at the same moment."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.alerts.tables import alerts

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
