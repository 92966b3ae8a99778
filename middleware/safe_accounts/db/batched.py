"""A table written in batches off the response path: the decision log, the report log.

`add` is a deque append: no I/O on the response path. A background task writes what is
queued every `interval` seconds (at once when a batch is full) in one INSERT per batch.
While the database is unreachable rows stay queued, up to `limit` (beyond it the oldest are
dropped, counted and logged), and are written when it returns; `close` writes what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any

from sqlalchemy import Table
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger("safe_accounts.db")

WRITE_FAILED = "%s: write of %d rows failed (%s); keeping them queued"
OVERFLOWED = "%s: queue full, %d oldest rows dropped so far"


class BatchedTable:
    def __init__(
        self,
        engine: AsyncEngine,
        table: Table,
        *,
        name: str,
        batch: int = 500,
        interval: float = 0.1,
        limit: int = 100_000,
    ) -> None:
        self._engine = engine
        self._insert = table.insert()
        self._name = name
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

    def add(self, row: dict[str, Any]) -> None:
        if len(self._queue) >= self._limit:
            self._queue.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.error(OVERFLOWED, self._name, self.dropped)
        self._queue.append(row)
        if len(self._queue) >= self._batch:
            self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"safe-accounts-{self._name}")

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> int:
        """Write everything queued now; returns rows written (0 while the database is down)."""
        async with self._lock:
            total = 0
            while self._queue:
                rows = [self._queue[i] for i in range(min(self._batch, len(self._queue)))]
                try:
                    async with self._engine.begin() as conn:
                        await conn.execute(self._insert, rows)
                except (SQLAlchemyError, OSError) as exc:
                    self.last_error = exc.__class__.__name__
                    logger.warning(WRITE_FAILED, self._name, len(rows), self.last_error)
                    return total
                for _ in rows:
                    self._queue.popleft()
                total += len(rows)
                self.written += len(rows)
                self.last_error = None
            return total

    async def close(self) -> None:
        # Stop by asking, never by cancelling: a write cancelled between its commit and the
        # bookkeeping after it would be written twice.
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
