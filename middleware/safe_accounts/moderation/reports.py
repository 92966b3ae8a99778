"""The report log: every child-endangerment report (a 2xx `report` action), queued on the
request path and written in batches.

`record` is a list append that returns the new report's id: no I/O on the response path.
A background task writes what is queued every `interval` seconds (at once when a batch is
full). While the database is unreachable rows stay queued (up to `limit`; beyond it the
oldest are dropped, counted and logged) and are written when it returns; `close` writes
what is left. Ids, bands and times only: the report's text is never read or stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from .model import ItemStatus
from .tables import reports

logger = logging.getLogger("safe_accounts.reports")

WRITE_FAILED = "report log: write of %d reports failed (%s); keeping them queued"
OVERFLOWED = "report log: queue full, %d oldest reports dropped so far"


class ReportLog:
    def __init__(
        self, engine: AsyncEngine, *, batch: int = 200, interval: float = 0.1, limit: int = 100_000
    ) -> None:
        self._engine = engine
        self._batch = batch
        self._interval = interval
        self._limit = limit
        self._queue: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.written = 0
        self.dropped = 0
        self.last_error: str | None = None

    def record(
        self,
        *,
        reporter_id: str,
        reporter_band: str,
        reported_id: str,
        reported_band: str,
        at: float,
        decision_id: str | None = None,
    ) -> str:
        """Queue one report of `reported_id` by `reporter_id`; returns its id. Bands are
        `AgeBand` values (an `AgeBand` itself is accepted)."""
        report_id = uuid.uuid4().hex
        if len(self._queue) >= self._limit:
            self._queue.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.error(OVERFLOWED, self.dropped)
        self._queue.append(
            {
                "id": report_id,
                "at": at,
                "reporter_id": reporter_id,
                "reporter_band": str(reporter_band),
                "reported_id": reported_id,
                "reported_band": str(reported_band),
                "decision_id": decision_id,
                "status": ItemStatus.OPEN.value,
            }
        )
        if len(self._queue) >= self._batch:
            self._wake.set()
        return report_id

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="safe-accounts-report-log")

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> int:
        """Write everything queued now; returns how many were written (0 while SQL is down)."""
        async with self._lock:
            total = 0
            while self._queue:
                rows = [self._queue[i] for i in range(min(self._batch, len(self._queue)))]
                try:
                    async with self._engine.begin() as conn:
                        await conn.execute(reports.insert(), rows)
                except (SQLAlchemyError, OSError) as exc:
                    self.last_error = exc.__class__.__name__
                    logger.warning(WRITE_FAILED, len(rows), self.last_error)
                    return total
                for _ in rows:
                    self._queue.popleft()
                total += len(rows)
                self.written += len(rows)
                self.last_error = None
            return total

    async def close(self) -> None:
        # Stop by asking, never by cancelling: a write cancelled after its commit would be
        # written twice.
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            await self._task
            self._task = None
            self._stopping = False
        await self.flush()

    def health(self) -> dict[str, object]:
        return {
            "queued": len(self._queue),
            "written": self.written,
            "dropped": self.dropped,
            "last_error": self.last_error,
        }
