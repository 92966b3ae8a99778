"""The alert service: turns a signal crossing into a stored alert, its escalation and its
deliveries, in one transaction.

The Redis marker already lets one crossing through per (account, signal, window); the
unique (subject, signal, window_key) constraint refuses any duplicate that gets past it
(two in-process stores, a replay), so a crossing raises at most one alert row.

No alert storms: while an account has an alert a moderator has not resolved (open or
acknowledged - an automatic restriction always has one), a further crossing by that
account, of any signal, is folded into that alert - its events join the evidence, its
count joins the counts, `crossings` counts them - instead of raising another alert. A
folded crossing that escalates to a restriction still restricts the account.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ..clock import SYSTEM_CLOCK, Clock
from ..db.bulk_insert import bounded
from ..db.metadata import ACCOUNT_ID_LENGTH
from ..errors import StorageError, storage_errors
from ..signals.crossing import Crossing
from .model import Alert, AlertStatus, LiveAlertExists, UnknownAlert
from .outbox import AlertOutbox
from .restrictions import Restrictions, insert_restriction
from .tables import alert_outbox, alerts, restrictions

logger = logging.getLogger(__name__)

ALERT_RAISED = "grooming alert %s: %s crossed %s (%s)"
ALERT_DUPLICATE = "grooming alert for %s on %s in window %s already exists: not raised again"
ALERT_FOLDED = "grooming alert %s: %s crossed %s again (%s); added to the open alert"

# Look for the live alert, else store one: a second round only when another worker stored
# the account's alert in between, a third if a moderator resolved that one meanwhile.
_ATTEMPTS = 3


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
        if len(crossing.subject) > ACCOUNT_ID_LENGTH:
            # Recorders bound what they count (`signals.recorder`), but a crossing left pending
            # in the store from before may not be: whole, PostgreSQL refuses it for ever, and
            # every crossing offered after it waits behind it.
            crossing = replace(crossing, subject=bounded(crossing.subject, ACCOUNT_ID_LENGTH))
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
        # Look for the account's live alert, else store one. Another worker may store its own
        # between the two steps: the store refuses a second live alert per account, and the
        # crossing then joins that one.
        for _ in range(_ATTEMPTS):
            if await self._fold_into_live_alert(crossing, now) is not None:
                return None
            with storage_errors(f"storing the alert for {crossing.signal!r}"):
                stored = await self._store(alert, row, crossing, now)
                if not stored and await self._exists(crossing):
                    logger.info(ALERT_DUPLICATE, crossing.subject, crossing.signal, crossing.window_key)
                    return None
            if stored:
                break
        else:
            raise StorageError(
                f"storing the alert for {crossing.signal!r} failed: {crossing.subject}'s live alert "
                f"changed under it {_ATTEMPTS} times"
            )
        logger.warning(ALERT_RAISED, alert.id, crossing.subject, crossing.signal, crossing.reason)
        if crossing.restrict and self._restrictions is not None:
            await self._restrictions.announce(crossing.subject, restricted=True)
        if self._outbox is not None:
            self._outbox.wake()
        return alert

    async def _store(self, alert: Alert, row: dict[str, Any], crossing: Crossing, now: float) -> bool:
        """Insert the alert, its deliveries and its restriction; False if a unique
        constraint refused it (this crossing stored already, or the account's live alert)."""
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
            return False
        return True

    async def _exists(self, crossing: Crossing) -> bool:
        """Whether this crossing (account, signal, window) already has its alert."""
        async with self._engine.connect() as conn:
            found = await conn.execute(
                select(alerts.c.id).where(
                    alerts.c.subject == crossing.subject,
                    alerts.c.signal == crossing.signal,
                    alerts.c.window_key == crossing.window_key,
                )
            )
            return found.first() is not None

    async def _fold_into_live_alert(self, crossing: Crossing, now: float) -> str | None:
        """Add `crossing` to the subject's latest alert not yet resolved, if it has one;
        its id, or None when the crossing is to raise an alert of its own."""
        with storage_errors(f"adding the crossing of {crossing.signal!r} to an open alert"):
            return await self._fold(crossing, now)

    async def _fold(self, crossing: Crossing, now: float) -> str | None:
        async with self._engine.begin() as conn:
            live = (
                await conn.execute(
                    select(alerts.c.id, alerts.c.signal, alerts.c.counts, alerts.c.evidence)
                    .where(
                        alerts.c.subject == crossing.subject,
                        alerts.c.status != AlertStatus.RESOLVED.value,
                    )
                    .order_by(alerts.c.created_at.desc(), alerts.c.id)
                    .limit(1)
                    # Two workers folding into one alert at once: the second reads the first's
                    # counts and evidence, not the row both started from (PostgreSQL; SQLite
                    # has one writer at a time anyway).
                    .with_for_update()
                )
            ).first()
            if live is None:
                return None
            alert_id, signal, counts, evidence = live
            merged = dict(counts)
            merged["crossings"] = int(merged.get("crossings", 1)) + 1
            if crossing.signal != signal:
                value = crossing.counts.get("count", crossing.counts.get("rate", crossing.counts.get("score")))
                if value is not None:
                    merged[crossing.signal] = value
            seen = {(e.get("kind"), e.get("other"), e.get("at")) for e in evidence}
            added = [
                e
                for e in crossing.evidence_json()
                if (e["kind"], e["other"], e["at"]) not in seen
            ]
            await conn.execute(
                update(alerts)
                .where(alerts.c.id == alert_id)
                .values(counts=merged, evidence=list(evidence) + added)
            )
            restrict = crossing.restrict and not (
                await conn.execute(
                    select(restrictions.c.id).where(
                        restrictions.c.account_id == crossing.subject,
                        restrictions.c.lifted_at.is_(None),
                    )
                )
            ).first()
            if restrict:
                await insert_restriction(
                    conn, crossing.subject, reason=crossing.reason, alert_id=alert_id,
                    by="system", at=now,
                )
        logger.info(ALERT_FOLDED, alert_id, crossing.subject, crossing.signal, crossing.reason)
        if restrict and self._restrictions is not None:
            await self._restrictions.announce(crossing.subject, restricted=True)
        return str(alert_id)

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
        try:
            async with self._engine.begin() as conn:
                done = await conn.execute(update(alerts).where(alerts.c.id == alert_id).values(status=status.value))
        except IntegrityError as exc:
            raise LiveAlertExists(
                f"alert {alert_id!r} cannot be {status.value} again: its account has another alert "
                "that is not resolved (later crossings join that one)"
            ) from exc
        if done.rowcount != 1:
            raise UnknownAlert(f"there is no alert {alert_id!r} (see `safe-accounts alerts list`)")
