"""Files new alerts and reports into cases in the middleware's background, so that cases and
their due times exist as soon as the items do - whether or not anyone has the queue open -
and the transparency report measures every item against its due time.

One pass every `interval` seconds, off the request path; a pass that fails (SQL down) is
logged and the next one catches up. The moderation app and the command line file too,
before they read: filing is idempotent and safe between workers (cases.file_new_items).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import StorageError
from .cases import file_new_items
from .due import DueTimes

logger = logging.getLogger("safe_accounts.moderation")

FILING_FAILED = "moderation: filing items into cases failed, trying again: %s"


class CaseFiler:
    def __init__(
        self, engine: AsyncEngine, due: DueTimes, *, clock: Clock = SYSTEM_CLOCK, interval: float = 5.0
    ) -> None:
        self._engine = engine
        self._due = due
        self._clock = clock
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self.filed = 0
        self.last_error: str | None = None

    async def file_now(self) -> int:
        filed = await file_new_items(self._engine, self._due, now=self._clock.now())
        self.filed += filed
        self.last_error = None
        return filed

    async def drain(self) -> None:
        """File what is there now; a failure is logged and left to the next pass (as the
        other writers' `drain` leaves what it cannot write queued)."""
        try:
            await self.file_now()
        except StorageError as exc:
            self.last_error = str(exc)
            logger.warning(FILING_FAILED, exc)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="safe-accounts-case-filer")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.drain()

    def health(self) -> dict[str, Any]:
        return {"filed": self.filed, "last_error": self.last_error}
