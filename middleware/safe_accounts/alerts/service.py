"""The alert service: turns a signal crossing into a stored alert, its escalation and its
deliveries, in one transaction.

The Redis marker already lets one crossing through per (account, signal, window); the
unique (subject, signal, window_key) constraint refuses any duplicate that gets past it
(two in-process stores, a replay), so a crossing raises at most one alert row.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import StorageError
from ..signals.crossing import Crossing
from .model import Alert, AlertStatus, UnknownAlert
from .outbox import AlertOutbox
from .restrictions import Restrictions, insert_restriction
from .tables import alert_outbox, alerts

logger = logging.getLogger(__name__)

ALERT_RAISED = "grooming alert %s: %s crossed %s (%s)"
ALERT_DUPLICATE = "grooming alert for %s on %s in window %s already exists: not raised again"


class AlertService:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        policy_version: str = "",
        clock: Clock = SYSTEM_CLOCK,
        restrictions: Restrictions | None = None,
        outbox: AlertOutbox | None = None,
    ) -> None:
        self._engine = engine
        self._policy_version = policy_version
        self._clock = clock
        self._restrictions = restrictions
        self._outbox = outbox

    async def __call__(self, crossing: Crossing) -> None:
        """The recorder's `on_crossing`."""
        await self.raise_alert(crossing)

    async def raise_alert(self, crossing: Crossing) -> Alert | None:
        """Store the alert (and its restriction and deliveries); None if it already exists."""
        now = self._clock.now()
        alert = Alert(
            id=uuid.uuid4().hex,
            subject=crossing.subject,
            signal=crossing.signal,
            window_key=crossing.window_key,
            counts=crossing.counts_json(),
            evidence=tuple(crossing.evidence_json()),
            reason=crossing.reason,
            status=AlertStatus.OPEN,
            created_at=now,
            policy_version=self._policy_version,
            decision_id=crossing.decision_id,
        )
        row = alert.to_json()
        row["evidence"] = list(alert.evidence)
        try:
            async with self._engine.begin() as conn:
                await conn.execute(alerts.insert().values(**row))
                destinations = self._outbox.destinations if self._outbox else ()
                if destinations:
                    await conn.execute(
                        alert_outbox.insert(),
                        [
                            {"alert_id": alert.id, "destination": d, "attempts": 0, "next_attempt_at": now}
                            for d in destinations
                        ],
                    )
                if crossing.restrict:
                    await insert_restriction(
                        conn, crossing.subject, reason=crossing.reason, alert_id=alert.id,
                        by="system", at=now,
                    )
        except IntegrityError:
            logger.info(ALERT_DUPLICATE, crossing.subject, crossing.signal, crossing.window_key)
            return None
        except Exception as exc:
            raise StorageError(f"could not store the alert for {crossing.signal!r}: {exc}") from exc
        logger.warning(ALERT_RAISED, alert.id, crossing.subject, crossing.signal, crossing.reason)
        if crossing.restrict and self._restrictions is not None:
            await self._restrictions.announce(crossing.subject, restricted=True)
        if self._outbox is not None:
            self._outbox.wake()
        return alert

    # --- reading and moderating -----------------------------------------------------

    async def get(self, alert_id: str) -> Alert | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(alerts).where(alerts.c.id == alert_id))).mappings().first()
        return None if row is None else Alert.from_row(row)

    async def list(self, *, status: AlertStatus | None = None, limit: int = 100) -> Sequence[Alert]:
        query = select(alerts).order_by(alerts.c.created_at.desc(), alerts.c.id).limit(limit)
        if status is not None:
            query = query.where(alerts.c.status == status.value)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [Alert.from_row(r) for r in rows]

    async def count(self, *, status: AlertStatus | None = None) -> int:
        query = select(func.count()).select_from(alerts)
        if status is not None:
            query = query.where(alerts.c.status == status.value)
        async with self._engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def set_status(self, alert_id: str, status: AlertStatus) -> None:
        async with self._engine.begin() as conn:
            done = await conn.execute(update(alerts).where(alerts.c.id == alert_id).values(status=status.value))
        if done.rowcount != 1:
            raise UnknownAlert(f"there is no alert {alert_id!r} (see `safe-accounts alerts list`)")
