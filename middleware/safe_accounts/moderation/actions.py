"""Moderators' actions: recorded with who and when, and made to take effect.

`restrict` and `lift` go through `alerts.Restrictions`, so the enforcement sees them at
once (in this worker directly, in the others by pub/sub or their next refresh). `suspend`
calls the host's hook, since only the host can suspend an account; the action is recorded
whether or not a hook is configured and whether or not it succeeds, with what happened
in `effect`. The first action on an item is its first response; the first resolving
action (dismiss, warn, restrict, suspend, refer) is its resolution.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ..alerts.restrictions import Restrictions
from ..alerts.tables import restrictions as restriction_rows
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import storage_errors
from .items import ItemRef, find_item, status_table
from .model import ActionRecord, InvalidAction, ItemKind, ItemStatus, ModerationAction
from .tables import moderation_actions

logger = logging.getLogger("safe_accounts.moderation")

ACTION_TAKEN = "moderation: %s on %s %s (account %s) by %s"
SUSPEND_FAILED = "moderation: the suspend hook failed for %s: %s"

SuspendHook = Callable[[str], Awaitable[Any]]
RestrictionsSource = Restrictions | Callable[[], Restrictions]

MAX_NOTE = 2000
MAX_MODERATOR_ID = 255
_NEEDS_ACCOUNT = frozenset(
    {ModerationAction.RESTRICT, ModerationAction.LIFT, ModerationAction.SUSPEND}
)


class Moderation:
    """Takes moderation actions on queue items.

    `restrictions` is the running middleware's `Restrictions` (or a callable returning it,
    for an app built before the middleware has started). Without one, restrictions are
    written to SQL only and the middleware's workers pick them up on their next refresh.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        restrictions: RestrictionsSource | None = None,
        on_suspend: SuspendHook | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._engine = engine
        self._restrictions = restrictions
        self._sql_only: Restrictions | None = None
        self._on_suspend = on_suspend
        self._clock = clock

    def _restrictions_now(self) -> Restrictions:
        if isinstance(self._restrictions, Restrictions):
            return self._restrictions
        if self._restrictions is not None:
            return self._restrictions()
        if self._sql_only is None:
            self._sql_only = Restrictions(self._engine, clock=self._clock)
        return self._sql_only

    async def take(
        self, item_id: str, action: ModerationAction | str, *, by: str, note: str = ""
    ) -> ActionRecord:
        """Apply and record `action` on the alert or report `item_id` for moderator `by`."""
        action = action if isinstance(action, ModerationAction) else ModerationAction.parse(action)
        by = by.strip()
        if not by:
            raise InvalidAction("a moderation action needs the moderator's id (--by)")
        if len(by) > MAX_MODERATOR_ID:
            raise InvalidAction(f"a moderator id is at most {MAX_MODERATOR_ID} characters")
        note = note.strip()
        if len(note) > MAX_NOTE:
            raise InvalidAction(f"a note is at most {MAX_NOTE} characters")
        async with self._engine.connect() as conn:
            item = await find_item(conn, item_id)
        if action in _NEEDS_ACCOUNT and item.account_id is None:
            raise InvalidAction(
                f"{item.kind.value} {item.id} no longer names an account (erased by retention): "
                f"{action.value} cannot apply"
            )
        effect = await self._apply(item, action, by=by, note=note)
        record = ActionRecord(
            id=uuid.uuid4().hex,
            item_kind=item.kind,
            item_id=item.id,
            account_id=item.account_id,
            action=action,
            by=by,
            at=self._clock.now(),
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
        logger.info(ACTION_TAKEN, action.value, item.kind.value, item.id, item.account_id, by)
        return record

    async def _apply(
        self, item: ItemRef, action: ModerationAction, *, by: str, note: str
    ) -> str | None:
        account = item.account_id
        if action is ModerationAction.RESTRICT:
            assert account is not None
            if await self._is_restricted(account):
                return "already restricted"
            reason = note or f"restricted by moderator {by} on {item.kind.value} {item.id}"
            await self._restrictions_now().restrict(
                account,
                reason=reason,
                alert_id=item.id if item.kind is ItemKind.ALERT else None,
                by=by,
            )
            return "restricted"
        if action is ModerationAction.LIFT:
            assert account is not None
            if not await self._is_restricted(account):
                return "no active restriction"
            await self._restrictions_now().lift(account, by=by, note=note)
            return "restriction lifted"
        if action is ModerationAction.SUSPEND:
            assert account is not None
            if self._on_suspend is None:
                return "recorded only: no suspend hook is configured"
            try:
                await self._on_suspend(account)
            except Exception as exc:  # noqa: BLE001 - the host's hook: record what happened
                logger.error(SUSPEND_FAILED, account, exc)
                return f"suspend hook failed: {exc.__class__.__name__}: {exc}"[:500]
            return "suspended by the host"
        return None

    async def _is_restricted(self, account_id: str) -> bool:
        async with self._engine.connect() as conn:
            found = await conn.execute(
                select(restriction_rows.c.id)
                .where(
                    restriction_rows.c.account_id == account_id,
                    restriction_rows.c.lifted_at.is_(None),
                )
                .limit(1)
            )
            return found.first() is not None

    async def actions_on(self, item_id: str) -> list[ActionRecord]:
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
