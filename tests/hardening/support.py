"""Small helpers the fault tests share: waiting for background writers, reading our tables."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.alerts.tables import alerts
from safe_accounts.decisions.table import decision_log
from safe_accounts.moderation.tables import reports

# A bound on waiting for a background writer, never a speed claim: a healthy run takes a
# fraction of it; a writer that never catches up fails the test instead of hanging it.
PATIENCE = 30.0


async def eventually(check: Callable[[], Awaitable[bool]], *, what: str, within: float = PATIENCE) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"not within {within:.0f} s: {what}")
        await asyncio.sleep(0.05)


async def count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def decision_ids(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(select(decision_log.c.id))).scalars())


# What an alert's counts hold besides the signals folded into it (`alerts/service.py`).
_COUNT_FIELDS = frozenset({"count", "threshold", "crossings", "numerator", "denominator", "rate", "min_denominator"})


async def alert_keys(engine: AsyncEngine) -> list[tuple[str, str]]:
    """The (account, signal) pairs alerted: each alert's own signal, and the signals whose
    later crossings were folded into it while it was open (no alert storms)."""
    async with engine.connect() as conn:
        rows = await conn.execute(select(alerts.c.subject, alerts.c.signal, alerts.c.counts))
        keys: list[tuple[str, str]] = []
        for r in rows:
            keys.append((r.subject, r.signal))
            keys += [(r.subject, name) for name in r.counts or {} if name not in _COUNT_FIELDS]
        return sorted(keys)


async def report_count(engine: AsyncEngine) -> int:
    return await count(engine, reports)
