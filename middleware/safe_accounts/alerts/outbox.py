"""The alert outbox: every destination of every alert, delivered until it is accepted.

An alert's outbox rows are written in the alert's own transaction, so an alert cannot
exist without its deliveries, nor survive a restart without them. Any worker may deliver:
a row is claimed by moving its `next_attempt_at` forward (a lease) in a conditional
UPDATE that only one worker can win; a failure backs off exponentially. A worker that dies
mid-delivery leaves a lease that expires, and the row is tried again - the webhook's
`Idempotency-Key` lets the receiver drop the rare repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ..clock import SYSTEM_CLOCK, Clock
from .model import Alert
from .tables import alert_outbox, alerts

logger = logging.getLogger(__name__)

Destination = Callable[[Alert], Awaitable[None]]

DELIVERED = "alert %s delivered to %s"
DELIVERY_FAILED = "alert %s not delivered to %s (attempt %d, next in %.1fs): %s"
OUTBOX_FAILED = "alert outbox: SQL unavailable, retrying: %s"


class AlertOutbox:
    def __init__(
        self,
        engine: AsyncEngine,
        destinations: Mapping[str, Destination],
        *,
        clock: Clock = SYSTEM_CLOCK,
        poll_interval: float = 1.0,
        backoff: float = 1.0,
        max_backoff: float = 300.0,
        lease: float = 60.0,
        batch: int = 50,
    ) -> None:
        self._engine = engine
        self._destinations = dict(destinations)
        self._clock = clock
        self._poll_interval = poll_interval
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._lease = lease
        self._batch = batch
        self._wake = asyncio.Event()
        # One pass at a time in this process: a pass asked for (`drain`) while the
        # background one runs waits for it, so it returns only once that one's deliveries
        # are settled too. Workers elsewhere are kept apart by the claims.
        self._passing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def destinations(self) -> tuple[str, ...]:
        return tuple(self._destinations)

    def backoff_after(self, attempts: int) -> float:
        return float(min(self._backoff * 2 ** (attempts - 1), self._max_backoff))

    def wake(self) -> None:
        self._wake.set()

    async def deliver_due(self) -> int:
        """One pass: deliver what is due here; return how many were delivered."""
        if not self._destinations:
            return 0
        async with self._passing:
            return await self._deliver_due()

    async def _deliver_due(self) -> int:
        now = self._clock.now()
        async with self._engine.connect() as conn:
            due = (
                await conn.execute(
                    select(alert_outbox.c.alert_id, alert_outbox.c.destination, alert_outbox.c.attempts,
                           alert_outbox.c.next_attempt_at)
                    .where(
                        alert_outbox.c.delivered_at.is_(None),
                        alert_outbox.c.next_attempt_at <= now,
                        alert_outbox.c.destination.in_(list(self._destinations)),
                    )
                    .order_by(alert_outbox.c.next_attempt_at)
                    .limit(self._batch)
                )
            ).all()
        delivered = 0
        for alert_id, destination, attempts, due_at in due:
            if not await self._claim(alert_id, destination, due_at, now):
                continue  # another worker has it
            alert = await self._alert(alert_id)
            try:
                await self._destinations[destination](alert)
            except Exception as exc:  # noqa: BLE001 - any failure is retried later
                attempts += 1
                wait = self.backoff_after(attempts)
                logger.warning(DELIVERY_FAILED, alert_id, destination, attempts, wait, exc)
                await self._settle(alert_id, destination, attempts=attempts,
                                   next_attempt_at=self._clock.now() + wait, last_error=str(exc)[:1000])
                continue
            await self._settle(alert_id, destination, attempts=attempts + 1, delivered_at=self._clock.now())
            logger.info(DELIVERED, alert_id, destination)
            delivered += 1
        return delivered

    async def _claim(self, alert_id: str, destination: str, due_at: float, now: float) -> bool:
        async with self._engine.begin() as conn:
            claimed = await conn.execute(
                update(alert_outbox)
                .where(
                    and_(
                        alert_outbox.c.alert_id == alert_id,
                        alert_outbox.c.destination == destination,
                        alert_outbox.c.next_attempt_at == due_at,
                        alert_outbox.c.delivered_at.is_(None),
                    )
                )
                .values(next_attempt_at=now + self._lease)
            )
            return claimed.rowcount == 1

    async def _alert(self, alert_id: str) -> Alert:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(alerts).where(alerts.c.id == alert_id))).mappings().one()
        return Alert.from_row(row)

    async def _settle(self, alert_id: str, destination: str, **values: object) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(alert_outbox)
                .where(alert_outbox.c.alert_id == alert_id, alert_outbox.c.destination == destination)
                .values(**values)
            )

    async def start(self) -> None:
        if self._task is None and self._destinations:
            self._task = asyncio.create_task(self._run(), name="safe-accounts-alert-outbox")

    async def close(self) -> None:
        if self._task is not None:
            # Told to stop rather than cancelled: Python 3.11's wait_for can swallow a
            # cancellation that arrives as the wake-up event fires.
            self._stopping = True
            self._wake.set()
            await self._task
            self._task = None
            self._stopping = False

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self.deliver_due()
            except Exception as exc:  # noqa: BLE001 - SQL down: try again next round
                logger.warning(OUTBOX_FAILED, exc)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_interval)
            self._wake.clear()
