"""Cases: the alerts and reports about one account, decided together.

An item (a grooming alert, a child-endangerment report) is *filed* into its account's open
case - one is opened if there is none - with its due time from the policy. Filing runs
in the middleware's background (runtime/signals_wiring.py) and before anything moderators
read or do, so a case always holds every item about its account; it is idempotent and
safe between workers (an item is filed once: its id is the key; an account has at most
one open case: `open_account` is unique).

The queue shows open cases, overdue ones first (the most overdue first), then as before:
accounts restricted right now (awaiting a decision), then by weight (different under-18s
reporting the account, plus its open alerts), then the soonest due, then the oldest.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    String,
    and_,
    case,
    cast,
    distinct,
    exists,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..alerts.tables import alerts
from ..alerts.tables import restrictions as restriction_rows
from ..errors import storage_errors
from .display import Account
from .due import DueTimes
from .model import ActionRecord, ItemKind, ItemStatus, UnknownItem
from .tables import case_events, case_items, cases, moderation_actions, reports

REPORT_TITLE = "child-endangerment report"
_ADULT = "adult"
_RESOLVED = ItemStatus.RESOLVED.value
# A due time far in the future, so that cases without one sort after every dated case.
_NEVER = 1e18


class UnknownCase(UnknownItem):
    """No case has the id given."""


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """One row of the queue."""

    id: str
    account_id: str
    status: str  # open, resolved
    opened_at: float
    due_at: float | None  # the soonest due time of its undecided items
    claimed_by: str | None
    claimed_at: float | None
    held: bool
    restricted: bool
    alerts: int
    reports: int
    open_alerts: int
    minor_reporters: int  # different under-18s (or unknown age) reporting it, undecided reports
    signals: tuple[str, ...]
    account: Account | None = None

    @property
    def weight(self) -> int:
        return self.minor_reporters + self.open_alerts

    def overdue(self, now: float) -> bool:
        return self.status == "open" and self.due_at is not None and self.due_at < now

    def reasons(self, now: float) -> list[str]:
        """Why it sits where it does, for the moderator."""
        said = []
        if self.overdue(now):
            said.append("overdue")
        if self.restricted:
            said.append("account restricted, awaiting a decision")
        if self.minor_reporters:
            n = self.minor_reporters
            said.append(f"reported by {n} under-18 account{'s' if n != 1 else ''}")
        if self.open_alerts:
            n = self.open_alerts
            said.append(f"{n} open alert{'s' if n != 1 else ''} on the account")
        return said

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "account": (self.account or Account(self.account_id)).to_json(),
            "status": self.status,
            "opened_at": self.opened_at,
            "due_at": self.due_at,
            "overdue": self.overdue(now),
            "claimed_by": self.claimed_by,
            "claimed_at": self.claimed_at,
            "legal_hold": self.held,
            "restricted": self.restricted,
            "items": {"alerts": self.alerts, "reports": self.reports},
            "open_alerts": self.open_alerts,
            "minor_reporters": self.minor_reporters,
            "weight": self.weight,
            "signals": list(self.signals),
            "reasons": self.reasons(now),
        }


@dataclass(frozen=True, slots=True)
class CaseItem:
    """An alert or a report in a case, with what a moderator reads about it."""

    kind: ItemKind
    id: str
    status: ItemStatus
    created_at: float
    due_at: float | None
    row: dict[str, Any]  # the alert's or the report's stored row

    @property
    def title(self) -> str:
        return str(self.row["signal"]) if self.kind is ItemKind.ALERT else REPORT_TITLE

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "id": self.id,
            "title": self.title,
            "status": self.status.value,
            "created_at": self.created_at,
            "due_at": self.due_at,
            **{k: v for k, v in self.row.items() if k not in ("id", "status")},
        }


@dataclass(frozen=True, slots=True)
class CaseDetail:
    summary: CaseSummary
    resolved_at: float | None
    resolved_by: str | None
    outcome: str | None
    held_at: float | None
    held_by: str | None
    hold_note: str | None
    items: tuple[CaseItem, ...]  # oldest first
    actions: tuple[ActionRecord, ...]  # on the case (one per action) and on its items, oldest first
    events: tuple[dict[str, Any], ...]  # claimed, unclaimed, held, released, exported
    restrictions: tuple[dict[str, Any], ...]  # the account's, newest first
    earlier: tuple[dict[str, Any], ...]  # the account's other cases, newest first
    timeline: tuple[dict[str, Any], ...]  # every alert's evidence and every report, oldest first
    names: dict[str, Account] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.summary.id

    @property
    def account_id(self) -> str:
        return self.summary.account_id

    @property
    def open(self) -> bool:
        return self.summary.status == "open"

    def name(self, account_id: str | None) -> str:
        if not account_id:
            return "-"
        known = self.names.get(account_id)
        return known.label if known is not None else account_id

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            **self.summary.to_json(now),
            "resolved_at": self.resolved_at,
            "resolved_by": self.resolved_by,
            "outcome": self.outcome,
            "legal_hold": None
            if self.held_at is None
            else {"at": self.held_at, "by": self.held_by, "note": self.hold_note},
            "item_list": [i.to_json() for i in self.items],
            "actions": [a.to_json() for a in self.actions],
            "events": list(self.events),
            "restrictions": list(self.restrictions),
            "earlier_cases": list(self.earlier),
            "timeline": list(self.timeline),
            "accounts": {k: v.to_json() for k, v in self.names.items()},
        }


# --- filing -------------------------------------------------------------------------------


async def file_new_items(engine: AsyncEngine, due: DueTimes, *, now: float) -> int:
    """File every undecided item not yet in a case into its account's open case; returns
    how many were filed. Another worker filing at the same moment makes one of the two
    transactions fail on a unique key: it is tried again and finds the other's work."""
    with storage_errors("filing moderation items into cases"):
        for attempt in range(3):
            try:
                async with engine.begin() as conn:
                    return await _file(conn, due, now)
            except IntegrityError:
                if attempt == 2:
                    raise
    return 0  # pragma: no cover - the loop returns or raises


async def _file(conn: AsyncConnection, due: DueTimes, now: float) -> int:
    unfiled_alerts = (
        await conn.execute(
            select(alerts.c.id, alerts.c.subject, alerts.c.signal, alerts.c.created_at).where(
                alerts.c.status != _RESOLVED,
                ~exists().where(case_items.c.item_id == alerts.c.id),
            )
        )
    ).all()
    unfiled_reports = (
        await conn.execute(
            select(reports.c.id, reports.c.reported_id, reports.c.reporter_band, reports.c.at).where(
                reports.c.status != _RESOLVED,
                reports.c.reported_id.is_not(None),
                ~exists().where(case_items.c.item_id == reports.c.id),
            )
        )
    ).all()
    if not unfiled_alerts and not unfiled_reports:
        return 0
    by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item_id, account, signal, created in unfiled_alerts:
        by_account[account].append(
            {
                "item_id": item_id,
                "item_kind": ItemKind.ALERT.value,
                "item_created_at": created,
                "due_at": due.alert(signal, created),
            }
        )
    for item_id, account, band, created in unfiled_reports:
        by_account[account].append(
            {
                "item_id": item_id,
                "item_kind": ItemKind.REPORT.value,
                "item_created_at": created,
                "due_at": due.report(band, created),
            }
        )
    open_cases = dict(
        (
            await conn.execute(
                select(cases.c.open_account, cases.c.id).where(
                    cases.c.open_account.in_(list(by_account))
                )
            )
        ).all()
    )
    rows: list[dict[str, Any]] = []
    for account, items in by_account.items():
        case_id = open_cases.get(account)
        if case_id is None:
            case_id = uuid.uuid4().hex
            await conn.execute(
                cases.insert().values(
                    id=case_id,
                    account_id=account,
                    open_account=account,
                    status="open",
                    opened_at=min(i["item_created_at"] for i in items),
                )
            )
        rows.extend({**item, "case_id": case_id, "filed_at": now} for item in items)
    await conn.execute(case_items.insert(), rows)
    return len(rows)


# --- reading ------------------------------------------------------------------------------


def _entries() -> Any:
    """Every filed item with what the queue weighs: its case, kind, status, due time, reporter."""
    return union_all(
        select(
            case_items.c.case_id,
            literal(ItemKind.ALERT.value).label("kind"),
            alerts.c.status,
            case_items.c.due_at,
            cast(null(), String).label("reporter_id"),
            cast(null(), String).label("reporter_band"),
        ).join(alerts, alerts.c.id == case_items.c.item_id),
        select(
            case_items.c.case_id,
            literal(ItemKind.REPORT.value),
            reports.c.status,
            case_items.c.due_at,
            reports.c.reporter_id,
            reports.c.reporter_band,
        ).join(reports, reports.c.id == case_items.c.item_id),
    ).subquery("entries")


def _summaries(now: float) -> Any:
    e = _entries()
    undecided = e.c.status != _RESOLVED
    agg = (
        select(
            e.c.case_id,
            func.min(case((undecided, e.c.due_at))).label("due_at"),
            func.sum(case((e.c.kind == ItemKind.ALERT.value, 1), else_=0)).label("alerts"),
            func.sum(case((e.c.kind == ItemKind.REPORT.value, 1), else_=0)).label("reports"),
            func.sum(case((and_(e.c.kind == ItemKind.ALERT.value, undecided), 1), else_=0)).label(
                "open_alerts"
            ),
            func.count(
                distinct(
                    case(
                        (
                            and_(
                                e.c.kind == ItemKind.REPORT.value,
                                undecided,
                                e.c.reporter_band != _ADULT,
                            ),
                            e.c.reporter_id,
                        )
                    )
                )
            ).label("minor_reporters"),
        )
        .group_by(e.c.case_id)
        .subquery("agg")
    )
    active = (
        select(restriction_rows.c.account_id.label("account_id"))
        .where(restriction_rows.c.lifted_at.is_(None))
        .distinct()
        .subquery("active")
    )
    restricted = case((active.c.account_id.is_(None), 0), else_=1)
    alerts_open = func.coalesce(agg.c.open_alerts, 0)
    minors = func.coalesce(agg.c.minor_reporters, 0)
    overdue = and_(cases.c.status == "open", agg.c.due_at.is_not(None), agg.c.due_at < now)
    return (
        select(
            cases,
            agg.c.due_at,
            func.coalesce(agg.c.alerts, 0).label("alerts"),
            func.coalesce(agg.c.reports, 0).label("reports"),
            alerts_open.label("open_alerts"),
            minors.label("minor_reporters"),
            restricted.label("restricted"),
        )
        .select_from(cases)
        .outerjoin(agg, agg.c.case_id == cases.c.id)
        .outerjoin(active, active.c.account_id == cases.c.account_id)
        .order_by(
            case((overdue, 0), else_=1),
            case((overdue, agg.c.due_at), else_=0),
            restricted.desc(),
            (minors + alerts_open).desc(),
            func.coalesce(agg.c.due_at, _NEVER),
            cases.c.opened_at,
            cases.c.id,
        )
    )


def _summary(row: Any, signals: Sequence[str]) -> CaseSummary:
    return CaseSummary(
        id=row.id,
        account_id=row.account_id,
        status=row.status,
        opened_at=row.opened_at,
        due_at=row.due_at,
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        held=row.held_at is not None,
        restricted=bool(row.restricted),
        alerts=int(row.alerts),
        reports=int(row.reports),
        open_alerts=int(row.open_alerts),
        minor_reporters=int(row.minor_reporters),
        signals=tuple(signals),
    )


async def _signals_of(conn: AsyncConnection, case_ids: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    if not case_ids:
        return found
    rows = await conn.execute(
        select(case_items.c.case_id, alerts.c.signal)
        .join(alerts, alerts.c.id == case_items.c.item_id)
        .where(case_items.c.case_id.in_(list(case_ids)))
        .distinct()
        .order_by(case_items.c.case_id, alerts.c.signal)
    )
    for case_id, signal in rows:
        found[case_id].append(signal)
    return found


async def open_cases(engine: AsyncEngine, *, now: float, limit: int = 500) -> list[CaseSummary]:
    """Open cases, most urgent first (at most `limit`)."""
    with storage_errors("reading the moderation queue"):
        async with engine.connect() as conn:
            rows = (
                await conn.execute(_summaries(now).where(cases.c.status == "open").limit(limit))
            ).all()
            signals = await _signals_of(conn, [r.id for r in rows])
    return [_summary(r, signals.get(r.id, ())) for r in rows]


async def count_open(engine: AsyncEngine, *, now: float) -> tuple[int, int]:
    """(open cases, of which overdue)."""
    open_only = _summaries(now).where(cases.c.status == "open").subquery()
    with storage_errors("counting open cases"):
        async with engine.connect() as conn:
            total = await conn.scalar(select(func.count()).select_from(open_only))
            late = await conn.scalar(
                select(func.count())
                .select_from(open_only)
                .where(open_only.c.due_at.is_not(None), open_only.c.due_at < now)
            )
    return int(total or 0), int(late or 0)


async def case_of_item(engine: AsyncEngine, item_id: str) -> str | None:
    with storage_errors("finding the item's case"):
        async with engine.connect() as conn:
            found: str | None = await conn.scalar(
                select(case_items.c.case_id).where(case_items.c.item_id == item_id)
            )
            return found


async def case_detail(engine: AsyncEngine, case_id: str, *, now: float) -> CaseDetail:
    """Everything a moderator reads to decide a case. `UnknownCase` if there is none."""
    with storage_errors("reading the case"):
        async with engine.connect() as conn:
            row = (
                await conn.execute(_summaries(now).where(cases.c.id == case_id))
            ).first()
            if row is None:
                raise UnknownCase(f"there is no case {case_id!r}")
            signals = await _signals_of(conn, [case_id])
            summary = _summary(row, signals.get(case_id, ()))
            items = await _items(conn, case_id)
            actions = [
                ActionRecord.from_row(r)
                for r in (
                    await conn.execute(
                        select(moderation_actions)
                        .where(
                            moderation_actions.c.item_id.in_([i.id for i in items] or [""])
                        )
                        .order_by(moderation_actions.c.at, moderation_actions.c.id)
                    )
                )
                .mappings()
                .all()
            ]
            events = [
                {str(k): v for k, v in r.items() if k != "case_id"}
                for r in (
                    await conn.execute(
                        select(case_events)
                        .where(case_events.c.case_id == case_id)
                        .order_by(case_events.c.at, case_events.c.id)
                    )
                )
                .mappings()
                .all()
            ]
            restrictions = [
                {str(k): v for k, v in r.items()}
                for r in (
                    await conn.execute(
                        select(
                            restriction_rows.c.created_at,
                            restriction_rows.c.created_by,
                            restriction_rows.c.reason,
                            restriction_rows.c.alert_id,
                            restriction_rows.c.lifted_at,
                            restriction_rows.c.lifted_by,
                        )
                        .where(restriction_rows.c.account_id == summary.account_id)
                        .order_by(restriction_rows.c.created_at.desc())
                    )
                )
                .mappings()
                .all()
            ]
            earlier = [
                {str(k): v for k, v in r.items()}
                for r in (
                    await conn.execute(
                        select(
                            cases.c.id,
                            cases.c.status,
                            cases.c.opened_at,
                            cases.c.resolved_at,
                            cases.c.outcome,
                        )
                        .where(cases.c.account_id == summary.account_id, cases.c.id != case_id)
                        .order_by(cases.c.opened_at.desc())
                    )
                )
                .mappings()
                .all()
            ]
    return CaseDetail(
        summary=summary,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        outcome=row.outcome,
        held_at=row.held_at,
        held_by=row.held_by,
        hold_note=row.hold_note,
        items=tuple(items),
        actions=tuple(_one_per_action(actions)),
        events=tuple(events),
        restrictions=tuple(restrictions),
        earlier=tuple(earlier),
        timeline=tuple(_timeline(items)),
    )


async def _items(conn: AsyncConnection, case_id: str) -> list[CaseItem]:
    found: list[CaseItem] = []
    filed = select(case_items.c.item_id, case_items.c.due_at).where(
        case_items.c.case_id == case_id
    ).subquery()
    for table, kind, _created in (
        (alerts, ItemKind.ALERT, alerts.c.created_at),
        (reports, ItemKind.REPORT, reports.c.at),
    ):
        rows = (
            await conn.execute(
                select(table, filed.c.due_at.label("_due_at")).join(
                    filed, filed.c.item_id == table.c.id
                )
            )
        ).mappings()
        for r in rows:
            stored = {str(k): v for k, v in r.items() if k != "_due_at"}
            found.append(
                CaseItem(
                    kind=kind,
                    id=stored["id"],
                    status=ItemStatus(stored["status"]),
                    created_at=stored["created_at" if kind is ItemKind.ALERT else "at"],
                    due_at=r["_due_at"],
                    row=stored,
                )
            )
    found.sort(key=lambda i: (i.created_at, i.id))
    return found


def _one_per_action(actions: Sequence[ActionRecord]) -> list[ActionRecord]:
    """A case action is stored once per item: shown once (its first row)."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for record in actions:
        key = (record.case_id, record.action, record.by, record.at) if record.case_id else (record.id,)
        if key not in seen:
            seen.add(key)
            out.append(record)
    return out


def _timeline(items: Sequence[CaseItem]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for item in items:
        if item.kind is ItemKind.ALERT:
            for e in item.row.get("evidence") or ():
                events.append({**dict(e), "item": item.id})
        else:
            events.append(
                {
                    "kind": "reported",
                    "other": item.row.get("reporter_id"),
                    "other_band": item.row.get("reporter_band"),
                    "mutual": None,
                    "at": item.created_at,
                    "item": item.id,
                }
            )
    events.sort(key=lambda e: e.get("at") or 0)
    return events


def accounts_on(detail: CaseDetail) -> list[str | None]:
    """Every account id a case page names, for one display lookup."""
    ids: list[str | None] = [detail.account_id]
    ids += [e.get("other") for e in detail.timeline]
    ids += [i.row.get("reporter_id") for i in detail.items if i.kind is ItemKind.REPORT]
    ids += [a.by for a in detail.actions] + [e.get("by") for e in detail.events]
    ids += [r.get("created_by") for r in detail.restrictions]
    return ids
