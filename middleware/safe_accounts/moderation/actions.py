"""Moderators' actions on one item (an alert or a report): recorded with who and when, and
made to take effect (effects.py). Most work is on cases (casework.py), which record an
action on every item they hold; this is the same for a single item, as the command line's
`alerts ack|resolve ID` takes it.

The first action on an item is its first response; the first resolving action (dismiss,
warn, restrict, suspend, refer) is its resolution. Once every item of a case is resolved,
the case is too.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import storage_errors
from .cases import file_new_items
from .casework import MAX_MODERATOR_ID, MAX_NOTE, checked_moderator, checked_note, settle_case_of
from .due import DueTimes
from .effects import Effects, RestrictionsSource
from .hooks import HostAction, HostCallback, HostHooks
from .items import find_item, status_table
from .model import ActionRecord, InvalidAction, ItemKind, ItemStatus, ModerationAction
from .tables import moderation_actions

logger = logging.getLogger("safe_accounts.moderation")

ACTION_TAKEN = "moderation: %s on %s %s (account %s) by %s"

__all__ = ["MAX_MODERATOR_ID", "MAX_NOTE", "Moderation", "RestrictionsSource"]

_NEEDS_ACCOUNT = frozenset(
    {ModerationAction.RESTRICT, ModerationAction.LIFT, ModerationAction.SUSPEND}
)


class Moderation:
    """Takes moderation actions on queue items.

    `restrictions` is the running middleware's `Restrictions` (or a callable returning it,
    for an app built before the middleware has started). Without one, restrictions are
    written to SQL only and the middleware's workers pick them up on their next refresh.
    `on_action` (or `hooks`) hands the host what only it can do (hooks.py).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        restrictions: RestrictionsSource | None = None,
        on_action: HostCallback | None = None,
        hooks: HostHooks | None = None,
        due: DueTimes | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._engine = engine
        self._effects = Effects(
            engine,
            restrictions=restrictions,
            hooks=hooks or HostHooks(callback=on_action, clock=clock),
            clock=clock,
        )
        self._due = due or DueTimes()
        self._clock = clock

    async def take(
        self, item_id: str, action: ModerationAction | str, *, by: str, note: str = ""
    ) -> ActionRecord:
        """Apply and record `action` on the alert or report `item_id` for moderator `by`."""
        action = action if isinstance(action, ModerationAction) else ModerationAction.parse(action)
        by, note = checked_moderator(by), checked_note(note)
        # Into its case first: the case is settled below when this decides its last item.
        await file_new_items(self._engine, self._due, now=self._clock.now())
        with storage_errors("reading the item"):
            async with self._engine.connect() as conn:
                item = await find_item(conn, item_id)
        if action in _NEEDS_ACCOUNT and item.account_id is None:
            raise InvalidAction(
                f"{item.kind.value} {item.id} no longer names an account (erased by retention): "
                f"{action.value} cannot apply"
            )
        record_id = uuid.uuid4().hex
        now = self._clock.now()
        effect = None
        if item.account_id is not None:
            effect = await self._effects.apply(
                HostAction(record_id, action, item.account_id, None, by, now),
                note=note,
                reason=f"restricted by moderator {by} on {item.kind.value} {item.id}",
                alert_id=item.id if item.kind is ItemKind.ALERT else None,
            )
        record = ActionRecord(
            id=record_id,
            item_kind=item.kind,
            item_id=item.id,
            account_id=item.account_id,
            action=action,
            by=by,
            at=now,
            note=note or None,
            effect=effect,
        )
        status = _status_after(item.status, action)
        with storage_errors(f"recording the {action.value} on {item.id}"):
            async with self._engine.begin() as conn:
                row = record.to_json()
                row["item_created_at"] = item.created_at
                await conn.execute(moderation_actions.insert().values(**row))
                if status is not item.status:
                    table = status_table(item.kind)
                    await conn.execute(
                        update(table).where(table.c.id == item.id).values(status=status.value)
                    )
                if status is ItemStatus.RESOLVED:
                    await settle_case_of(conn, item.id, by, now, action.value)
        logger.info(ACTION_TAKEN, action.value, item.kind.value, item.id, item.account_id, by)
        return record

    async def is_restricted(self, account_id: str) -> bool:
        return await self._effects.is_restricted(account_id)

    async def actions_on(self, item_id: str) -> list[ActionRecord]:
        with storage_errors("reading the item's actions"):
            async with self._engine.connect() as conn:
                rows = (
                    (
                        await conn.execute(
                            select(moderation_actions)
                            .where(moderation_actions.c.item_id == item_id)
                            .order_by(moderation_actions.c.at, moderation_actions.c.id)
                        )
                    )
                    .mappings()
                    .all()
                )
        return [ActionRecord.from_row(r) for r in rows]


def _status_after(status: ItemStatus, action: ModerationAction) -> ItemStatus:
    if action.resolves:
        return ItemStatus.RESOLVED
    if action is ModerationAction.ACK and status is ItemStatus.OPEN:
        return ItemStatus.ACKNOWLEDGED
    return status

