"""A table written in batches off the response path: the decision log, the report log.

`add` is a deque append: no I/O on the response path. A background task writes what is
queued every `interval` seconds (at once when a batch is full) in one INSERT per batch.
While the database is unreachable rows stay queued, up to `limit` (beyond it the oldest are
dropped, counted and logged), and are written when it returns; `close` writes what is left.

`write_now` is the other way in, for the few rows that must be on the record before their
caller goes on (a refusal, before it is answered): it queues them and has them written at
once, by the same writer under the same lock - so rows that arrive together share one
commit, and a row is never written twice - and waits for that up to a deadline. A row it
could not see written stays queued like any other and is counted (`answered_unwritten`).
A batch is one INSERT compiled once and sent on the driver's connection (`bulk_insert`); on
PostgreSQL an executemany, which asyncpg sends as one pipeline, on a connection of the
writer's own (`engine.writer_engine`): one round trip however many rows
(`tests/db/test_batched.py` counts them).

A batch is written again after any failure, including one whose commit succeeded but whose
answer was lost with the connection: every row is inserted unless its primary key is there
already, so a batch written twice is on the record once, never an error for ever.

A batch the database refuses for what a row holds rather than for its own state (a value
it cannot store: `bulk_insert.data_errors`) is written again a row at a time, and a row it
still refuses is set aside, counted (`rejected`) and logged with its id: retried, it would
fail for ever and hold every row queued behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from .bulk_insert import BulkInsert
from .engine import writer_engine

logger = logging.getLogger("safe_accounts.db")

WRITE_FAILED = "%s: write of %d rows failed (%s); keeping them queued"
OVERFLOWED = "%s: queue full, %d oldest rows dropped so far"
REJECTED = "%s: row %s refused by the database (%s: %s); set aside, not retried"
NOT_WRITTEN_FIRST = "%s: %d rows answered before they were written (%s); they stay queued"


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
        self.inserts = BulkInsert(writer_engine(engine), table)
        self._name = name
        self._batch = batch
        self._interval = interval
        self._limit = limit
        self._queue: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._urgent: asyncio.Task[int] | None = None  # the flush `write_now` callers wait on
        self._stopping = False
        # Rows ever queued, and rows ever taken off the queue's head (written or dropped):
        # the row queued as number n is off the queue once `_taken > n`.
        self._added = 0
        self._taken = 0
        self.written = 0
        self.dropped = 0
        self.rejected = 0
        self.answered_unwritten = 0
        self.last_error: str | None = None

    def add(self, row: dict[str, Any]) -> None:
        if len(self._queue) >= self._limit:
            self._queue.popleft()
            self._taken += 1
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.error(OVERFLOWED, self._name, self.dropped)
        self._queue.append(row)
        self._added += 1
        if len(self._queue) >= self._batch:
            self._wake.set()

    async def write_now(self, rows: Sequence[dict[str, Any]], *, within: float) -> bool:
        """Queue `rows` and wait up to `within` seconds for them to be committed: True once
        they are. False - they stay queued for the background writer, counted in
        `answered_unwritten` - when the write failed or overran `within`, or when the last
        write failed and none has succeeded since: then no write is tried here at all, so
        that while the database is down its callers pay nothing for it (the background
        writer keeps retrying, and its first success lets `write_now` write again)."""
        for row in rows:
            self.add(row)
        if not rows:
            return True
        last, dropped, rejected = self._added - 1, self.dropped, self.rejected
        reason = self.last_error
        if reason is None:
            if self._urgent is None or self._urgent.done():
                # One flush for every caller that arrives while it runs: a burst of
                # refusals shares commits instead of queueing for pooled connections.
                self._urgent = asyncio.create_task(self.flush(), name=f"safe-accounts-{self._name}-now")
            try:
                async with asyncio.timeout(within):
                    # Shielded: a caller that stops waiting never cancels a write that may
                    # already have committed (its rows would be queued and written twice).
                    await asyncio.shield(self._urgent)
            except TimeoutError:
                reason = f"not written within {within * 1000:g} ms"
            except Exception as exc:  # noqa: BLE001 - the caller's answer must still go out
                reason = exc.__class__.__name__
            else:
                if self._taken > last and self.dropped == dropped and self.rejected == rejected:
                    return True
                if self.rejected != rejected:
                    reason = "refused by the database"
                else:
                    reason = self.last_error or "dropped from a full queue"
        self.answered_unwritten += len(rows)
        logger.warning(NOT_WRITTEN_FIRST, self._name, len(rows), reason)
        return False

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
                failures: tuple[type[BaseException], ...] = (SQLAlchemyError, OSError, *self.inserts.errors)
                try:
                    try:
                        await self.inserts.write(rows)
                    except self.inserts.refusals:
                        total += await self._write_each(len(rows))
                        continue
                except failures as exc:
                    self.last_error = exc.__class__.__name__
                    logger.warning(WRITE_FAILED, self._name, len(rows), self.last_error)
                    return total
                for _ in rows:
                    self._queue.popleft()
                self._taken += len(rows)
                total += len(rows)
                self.written += len(rows)
                self.last_error = None
            return total

    async def _write_each(self, count: int) -> int:
        """The first `count` queued rows, one INSERT each, after their batch was refused for
        its data; rows written. A row refused again is taken off the queue and counted; any
        other failure is raised with the rows from it on still queued."""
        written = 0
        for _ in range(count):
            row = self._queue[0]
            try:
                await self.inserts.write([row])
            except self.inserts.refusals as exc:
                self.rejected += 1
                logger.error(REJECTED, self._name, row.get("id"), exc.__class__.__name__, exc)
            else:
                written += 1
                self.written += 1
                self.last_error = None
            self._queue.popleft()
            self._taken += 1
        return written

    async def close(self) -> None:
        # Stop by asking, never by cancelling: a write cancelled between its commit and the
        # bookkeeping after it would be written twice.
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            await self._task
            self._task = None
            self._stopping = False
        if self._urgent is not None:
            with contextlib.suppress(Exception):  # what it failed to write, flush retries
                await self._urgent
            self._urgent = None
        await self.flush()
        await self.inserts.close()
        if self.inserts.engine is not self._engine:
            await self.inserts.engine.dispose()

    def health(self) -> dict[str, object]:
        return {
            "queued": len(self._queue),
            "written": self.written,
            "dropped": self.dropped,
            "rejected": self.rejected,
            "last_error": self.last_error,
        }
