"""What moderators do with a case: claim it, decide it, hold it for the authorities.

- **Claim**: one moderator works a case at a time. A case claimed by someone else is
  refused until it is released or taken over (`take_over=True`), so two moderators never
  decide one account twice; acting on an unclaimed case claims it.
- **Act**: the action takes effect once (a restriction, a suspension handed to the host)
  and is recorded on every item of the case, with the case's id: each item's first
  response and resolution stay what the transparency report measures. A resolving action
  settles the case and all its items; ack acknowledges them; a note or a lift leaves
  them as they are. A decided case takes its own decision again (a suspension the host
  did not get is retried so), never another one. Items that arrived for the account are filed first, so a decision
  covers everything known about the account when it is taken.
- **Legal hold**: while held, `purge` keeps the case's evidence (reports' ids and words,
  alerts' evidence, the account's decision-log rows) whatever their age.

Every claim, release, hold and export is a case event, with who and when.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..alerts.tables import alerts
from ..clock import SYSTEM_CLOCK, Clock
from ..db.metadata import ACCOUNT_ID_LENGTH
from ..errors import storage_errors
from .cases import UnknownCase, file_new_items
from .due import DueTimes
from .effects import Effects
from .hooks import HostAction
from .model import ActionRecord, InvalidAction, ItemKind, ItemStatus, ModerationAction
from .tables import case_events, case_items, cases, moderation_actions, reports

logger = logging.getLogger("safe_accounts.moderation")

CASE_ACTION = "moderation: %s on case %s (account %s, %d items) by %s"

MAX_NOTE = 2000
MAX_MODERATOR_ID = ACCOUNT_ID_LENGTH  # kept in the account-id columns (`claimed_by`, `by`...)
CLAIMED, UNCLAIMED, HELD, RELEASED, EXPORTED = "claimed", "unclaimed", "held", "released", "exported"


def checked_moderator(by: str) -> str:
    by = by.strip()
    if not by:
        raise InvalidAction("a moderation action needs the moderator's id")
    if len(by) > MAX_MODERATOR_ID:
        raise InvalidAction(f"a moderator id is at most {MAX_MODERATOR_ID} characters")
    return by


def checked_note(note: str) -> str:
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise InvalidAction(f"a note is at most {MAX_NOTE} characters")
    return note


class Casework:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        effects: Effects | None = None,
        due: DueTimes | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._engine = engine
        self._effects = effects or Effects(engine, clock=clock)
        self._due = due or DueTimes()
        self._clock = clock

    async def file(self) -> int:
        """File items not yet in a case (see cases.file_new_items)."""
        return await file_new_items(self._engine, self._due, now=self._clock.now())

    # --- claims -----------------------------------------------------------------------

    async def claim(self, case_id: str, *, by: str, take_over: bool = False) -> None:
        by = checked_moderator(by)
        with storage_errors("claiming the case"):
            async with self._engine.begin() as conn:
                row = await _case(conn, case_id, lock=True)
                if row.status != "open":
                    raise InvalidAction(f"case {case_id} is closed: there is nothing to claim")
                if row.claimed_by == by:
                    return
                if row.claimed_by is not None and not take_over:
                    raise InvalidAction(
                        f"case {case_id} is claimed by {row.claimed_by}: take it over to work on it"
                    )
                await self._set_claim(conn, case_id, by, note=row.claimed_by and f"from {row.claimed_by}")

    async def unclaim(self, case_id: str, *, by: str) -> None:
        by = checked_moderator(by)
        with storage_errors("releasing the case"):
            async with self._engine.begin() as conn:
                row = await _case(conn, case_id, lock=True)
                if row.claimed_by is None:
                    return
                await conn.execute(
                    update(cases).where(cases.c.id == case_id).values(claimed_by=None, claimed_at=None)
                )
                await self._event(conn, case_id, UNCLAIMED, by, f"was {row.claimed_by}")

    async def _set_claim(self, conn: AsyncConnection, case_id: str, by: str, *, note: Any) -> None:
        now = self._clock.now()
        await conn.execute(
            update(cases).where(cases.c.id == case_id).values(claimed_by=by, claimed_at=now)
        )
        await self._event(conn, case_id, CLAIMED, by, note or None)

    # --- decisions --------------------------------------------------------------------

    async def act(
        self, case_id: str, action: ModerationAction | str, *, by: str, note: str = ""
    ) -> ActionRecord:
        """Take `action` on the case for moderator `by`; returns the action (its first row)."""
        action = action if isinstance(action, ModerationAction) else ModerationAction.parse(action)
        by, note = checked_moderator(by), checked_note(note)
        await self.file()
        with storage_errors("reading the case"):
            async with self._engine.connect() as conn:
                row = await _case(conn, case_id)
                items = (
                    await conn.execute(
                        select(
                            case_items.c.item_id, case_items.c.item_kind, case_items.c.item_created_at
                        ).where(case_items.c.case_id == case_id)
                    )
                ).all()
        if row.claimed_by is not None and row.claimed_by != by:
            raise InvalidAction(
                f"case {case_id} is claimed by {row.claimed_by}: take it over to act on it"
            )
        # A decided case takes notes, a lift, and its own decision again (to retry what did
        # not reach the host); another decision would contradict the first.
        if row.status != "open" and action.resolves and action.value != row.outcome:
            raise InvalidAction(f"case {case_id} is already decided ({row.outcome})")
        first_alert = next((i for i, k, _ in items if k == ItemKind.ALERT.value), None)
        record_id = uuid.uuid4().hex
        now = self._clock.now()
        effect = await self._effects.apply(
            HostAction(record_id, action, row.account_id, case_id, by, now),
            note=note,
            reason=f"restricted by moderator {by} on case {case_id}",
            alert_id=first_alert,
        )
        with storage_errors(f"recording the {action.value} on case {case_id}"):
            async with self._engine.begin() as conn:
                current = await _case(conn, case_id, lock=True)
                rows = [
                    {
                        "id": record_id if index == 0 else uuid.uuid4().hex,
                        "item_kind": kind,
                        "item_id": item_id,
                        "item_created_at": created,
                        "account_id": row.account_id,
                        "action": action.value,
                        "by": by,
                        "at": now,
                        "note": note or None,
                        "effect": effect,
                        "case_id": case_id,
                    }
                    for index, (item_id, kind, created) in enumerate(items)
                ]
                if rows:
                    await conn.execute(moderation_actions.insert(), rows)
                await _settle_items(conn, [(i, k) for i, k, _ in items], action)
                values: dict[str, Any] = {}
                if current.claimed_by is None:
                    values.update(claimed_by=by, claimed_at=now)
                    await self._event(conn, case_id, CLAIMED, by, f"by taking {action.value}")
                if action.resolves and current.status == "open":
                    values.update(
                        status="resolved",
                        open_account=None,
                        resolved_at=now,
                        resolved_by=by,
                        outcome=action.value,
                    )
                if values:
                    await conn.execute(update(cases).where(cases.c.id == case_id).values(**values))
        logger.info(CASE_ACTION, action.value, case_id, row.account_id, len(items), by)
        return ActionRecord(
            id=record_id,
            item_kind=ItemKind(items[0][1]) if items else ItemKind.ALERT,
            item_id=items[0][0] if items else "",
            account_id=row.account_id,
            action=action,
            by=by,
            at=now,
            note=note or None,
            effect=effect,
            case_id=case_id,
        )

    # --- legal hold -------------------------------------------------------------------

    async def hold(self, case_id: str, *, by: str, note: str) -> None:
        by, note = checked_moderator(by), checked_note(note)
        if not note:
            raise InvalidAction("a legal hold needs its reason (e.g. the request's reference)")
        with storage_errors("placing the legal hold"):
            async with self._engine.begin() as conn:
                row = await _case(conn, case_id, lock=True)
                if row.held_at is not None:
                    raise InvalidAction(f"case {case_id} is already under legal hold")
                await conn.execute(
                    update(cases)
                    .where(cases.c.id == case_id)
                    .values(held_at=self._clock.now(), held_by=by, hold_note=note)
                )
                await self._event(conn, case_id, HELD, by, note)

    async def release_hold(self, case_id: str, *, by: str, note: str = "") -> None:
        by, note = checked_moderator(by), checked_note(note)
        with storage_errors("releasing the legal hold"):
            async with self._engine.begin() as conn:
                row = await _case(conn, case_id, lock=True)
                if row.held_at is None:
                    raise InvalidAction(f"case {case_id} is not under legal hold")
                await conn.execute(
                    update(cases)
                    .where(cases.c.id == case_id)
                    .values(held_at=None, held_by=None, hold_note=None)
                )
                await self._event(conn, case_id, RELEASED, by, note or None)

    async def exported(self, case_id: str, *, by: str, digest: str) -> None:
        with storage_errors("recording the export"):
            async with self._engine.begin() as conn:
                await self._event(conn, case_id, EXPORTED, checked_moderator(by), digest)

    async def _event(
        self, conn: AsyncConnection, case_id: str, kind: str, by: str, note: str | None
    ) -> None:
        await conn.execute(
            case_events.insert().values(
                case_id=case_id, kind=kind, by=by, at=self._clock.now(), note=note
            )
        )


async def _case(conn: AsyncConnection, case_id: str, *, lock: bool = False) -> Any:
    query = select(cases).where(cases.c.id == case_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise UnknownCase(f"there is no case {case_id!r}")
    return row


async def _settle_items(
    conn: AsyncConnection, items: list[tuple[str, str]], action: ModerationAction
) -> None:
    """The items' status after `action` on their case."""
    if action.resolves:
        status, only_from = ItemStatus.RESOLVED, None
    elif action is ModerationAction.ACK:
        status, only_from = ItemStatus.ACKNOWLEDGED, ItemStatus.OPEN
    else:
        return
    for table, kind in ((alerts, ItemKind.ALERT), (reports, ItemKind.REPORT)):
        ids = [i for i, k in items if k == kind.value]
        if not ids:
            continue
        query = update(table).where(table.c.id.in_(ids))
        if only_from is not None:
            query = query.where(table.c.status == only_from.value)
        await conn.execute(query.values(status=status.value))


async def settle_case_of(conn: AsyncConnection, item_id: str, by: str, at: float, action: str) -> None:
    """After a decision on one item: its case is resolved once none of its items is undecided."""
    case_id = await conn.scalar(select(case_items.c.case_id).where(case_items.c.item_id == item_id))
    if case_id is None:
        return
    undecided = 0
    for table in (alerts, reports):
        undecided += len(
            (
                await conn.execute(
                    select(table.c.id)
                    .join(case_items, case_items.c.item_id == table.c.id)
                    .where(case_items.c.case_id == case_id, table.c.status != ItemStatus.RESOLVED.value)
                    .limit(1)
                )
            ).all()
        )
    if undecided == 0:
        await conn.execute(
            update(cases)
            .where(cases.c.id == case_id, cases.c.status == "open")
            .values(status="resolved", open_account=None, resolved_at=at, resolved_by=by, outcome=action)
        )
