"""The moderation queue: open grooming alerts and child-endangerment reports, most urgent first.

Urgency, in order (docs/moderation.md):

1. items about an account that is restricted right now - an alert escalated it, or a
   moderator did - because until someone decides, the account is blocked from children
   (a risk if lifted wrongly, unfair if kept wrongly);
2. then by weight: how many different under-18s (or accounts of unknown age) have reported
   the account in open reports, plus its open alerts - several children pointing at one
   account is the strongest signal there is;
3. then the oldest first.

An item page shows the account, the signals with their counts and timeline, the bands
involved, and the account's earlier alerts, reports, restrictions and actions. Never
message text: none is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, case, distinct, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..alerts.tables import alerts
from ..alerts.tables import restrictions as restriction_rows
from .items import find_item
from .model import ActionRecord, ItemKind, ItemStatus
from .tables import moderation_actions, reports

REPORT_TITLE = "child-endangerment report"
_ADULT = "adult"


@dataclass(frozen=True, slots=True)
class QueueItem:
    kind: ItemKind
    id: str
    account_id: str | None
    title: str  # the alert's signal, or "child-endangerment report"
    status: ItemStatus
    created_at: float
    restricted: bool
    minor_reporters: int  # different under-18s (or unknown age) reporting the account, open reports
    open_alerts: int  # open alerts about the account
    reasons: tuple[str, ...]  # why it sits where it does, for the moderator

    @property
    def weight(self) -> int:
        return self.minor_reporters + self.open_alerts

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "id": self.id,
            "account_id": self.account_id,
            "title": self.title,
            "status": self.status.value,
            "created_at": self.created_at,
            "restricted": self.restricted,
            "minor_reporters": self.minor_reporters,
            "open_alerts": self.open_alerts,
            "weight": self.weight,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class ItemDetail:
    kind: ItemKind
    id: str
    account_id: str | None
    title: str
    status: ItemStatus
    created_at: float
    restricted: bool
    reason: str | None  # an alert's rule reason
    counts: dict[str, Any]  # an alert's counts
    timeline: tuple[dict[str, Any], ...]  # oldest first: kind, other, other_band, mutual, at
    bands: tuple[str, ...]  # every band involved
    report: dict[str, Any] | None  # a report's reporter and bands
    account_alerts: tuple[dict[str, Any], ...]  # every alert about the account, newest first
    account_reports: tuple[dict[str, Any], ...]  # every report about the account, newest first
    account_restrictions: tuple[dict[str, Any], ...]
    actions: tuple[ActionRecord, ...]  # on this item, oldest first
    account_actions: tuple[ActionRecord, ...] = field(default=())  # on the account's other items

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "id": self.id,
            "account_id": self.account_id,
            "title": self.title,
            "status": self.status.value,
            "created_at": self.created_at,
            "restricted": self.restricted,
            "reason": self.reason,
            "counts": self.counts,
            "timeline": list(self.timeline),
            "bands": list(self.bands),
            "report": self.report,
            "account": {
                "alerts": list(self.account_alerts),
                "reports": list(self.account_reports),
                "restrictions": list(self.account_restrictions),
                "actions": [a.to_json() for a in self.account_actions],
            },
            "actions": [a.to_json() for a in self.actions],
        }


async def _mappings(conn: AsyncConnection, statement: Any) -> Sequence[Any]:
    """The rows of `statement`, as mappings."""
    return (await conn.execute(statement)).mappings().all()


def _plain(row: Any) -> dict[str, Any]:
    # Row keys can be SQLAlchemy's `quoted_name` (a str subclass JSON encoders refuse).
    return {str(key): value for key, value in row.items()}


class ModerationQueue:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def open_items(self, *, limit: int = 500) -> list[QueueItem]:
        """Open and acknowledged items, most urgent first (at most `limit`).

        Ranked by SQL (one query, grouped per account), so a queue of a hundred thousand
        reports costs one scan, not a hundred thousand Python objects."""
        ranked = _ranked_items()
        async with self._engine.connect() as conn:
            rows = (await conn.execute(ranked.limit(limit))).all()
        return [_queue_item(r) for r in rows]

    async def count_open(self) -> tuple[int, int]:
        """(open alerts, open reports): the queue's length beyond what one page shows."""
        resolved = ItemStatus.RESOLVED.value
        async with self._engine.connect() as conn:
            alerts_open = await conn.scalar(
                select(func.count()).select_from(alerts).where(alerts.c.status != resolved)
            )
            reports_open = await conn.scalar(
                select(func.count()).select_from(reports).where(reports.c.status != resolved)
            )
        return int(alerts_open or 0), int(reports_open or 0)

    async def item(self, item_id: str) -> ItemDetail:
        """Everything a moderator needs to decide on one item. `UnknownItem` if there is none."""
        async with self._engine.connect() as conn:
            ref = await find_item(conn, item_id)
            account = ref.account_id
            account_alerts: list[dict[str, Any]] = []
            account_reports: list[dict[str, Any]] = []
            account_restrictions: list[dict[str, Any]] = []
            account_actions: list[ActionRecord] = []
            if account is not None:
                account_alerts = [
                    _plain(r)
                    for r in await _mappings(
                        conn,
                        select(
                            alerts.c.id,
                            alerts.c.signal,
                            alerts.c.status,
                            alerts.c.created_at,
                            alerts.c.counts,
                            alerts.c.reason,
                        )
                        .where(alerts.c.subject == account)
                        .order_by(alerts.c.created_at.desc(), alerts.c.id),
                    )
                ]
                account_reports = [
                    _plain(r)
                    for r in await _mappings(
                        conn,
                        select(
                            reports.c.id,
                            reports.c.at,
                            reports.c.reporter_id,
                            reports.c.reporter_band,
                            reports.c.reported_band,
                            reports.c.status,
                        )
                        .where(reports.c.reported_id == account)
                        .order_by(reports.c.at.desc(), reports.c.id),
                    )
                ]
                account_restrictions = [
                    _plain(r)
                    for r in await _mappings(
                        conn,
                        select(
                            restriction_rows.c.created_at,
                            restriction_rows.c.created_by,
                            restriction_rows.c.reason,
                            restriction_rows.c.alert_id,
                            restriction_rows.c.lifted_at,
                            restriction_rows.c.lifted_by,
                        )
                        .where(restriction_rows.c.account_id == account)
                        .order_by(restriction_rows.c.created_at.desc()),
                    )
                ]
                account_actions = [
                    ActionRecord.from_row(r)
                    for r in await _mappings(
                        conn,
                        select(moderation_actions)
                        .where(
                            moderation_actions.c.account_id == account,
                            moderation_actions.c.item_id != ref.id,
                        )
                        .order_by(moderation_actions.c.at.desc(), moderation_actions.c.id),
                    )
                ]
            actions = [
                ActionRecord.from_row(r)
                for r in await _mappings(
                    conn,
                    select(moderation_actions)
                    .where(moderation_actions.c.item_id == ref.id)
                    .order_by(moderation_actions.c.at, moderation_actions.c.id),
                )
            ]
        restricted = any(r["lifted_at"] is None for r in account_restrictions)
        row = ref.row
        bands: set[str] = set()
        if ref.kind is ItemKind.ALERT:
            timeline = tuple(
                sorted((dict(e) for e in row["evidence"]), key=lambda e: e.get("at", 0))
            )
            bands |= {e["other_band"] for e in timeline if e.get("other_band")}
            report = None
            title, reason, counts = row["signal"], row["reason"], dict(row["counts"])
        else:
            timeline = tuple(
                {
                    "kind": "reported",
                    "other": r["reporter_id"],
                    "other_band": r["reporter_band"],
                    "mutual": None,
                    "at": r["at"],
                }
                for r in sorted(account_reports, key=lambda r: r["at"])
            ) or (
                {
                    "kind": "reported",
                    "other": row["reporter_id"],
                    "other_band": row["reporter_band"],
                    "mutual": None,
                    "at": row["at"],
                },
            )
            report = {
                "reporter_id": row["reporter_id"],
                "reporter_band": row["reporter_band"],
                "reported_band": row["reported_band"],
                "decision_id": row["decision_id"],
            }
            bands |= {row["reporter_band"], row["reported_band"]}
            title, reason, counts = REPORT_TITLE, None, {}
        bands |= {r["reporter_band"] for r in account_reports} | {
            r["reported_band"] for r in account_reports
        }
        return ItemDetail(
            kind=ref.kind,
            id=ref.id,
            account_id=account,
            title=title,
            status=ref.status,
            created_at=ref.created_at,
            restricted=restricted,
            reason=reason,
            counts=counts,
            timeline=timeline,
            bands=tuple(sorted(bands)),
            report=report,
            account_alerts=tuple(account_alerts),
            account_reports=tuple(account_reports),
            account_restrictions=tuple(account_restrictions),
            actions=tuple(actions),
            account_actions=tuple(account_actions),
        )


def _ranked_items() -> Select[Any]:
    """Open alerts and reports with their account's weight and restriction, in urgency order."""
    resolved = ItemStatus.RESOLVED.value
    items = union_all(
        select(
            literal(ItemKind.ALERT.value).label("kind"),
            alerts.c.id.label("id"),
            alerts.c.subject.label("account_id"),
            alerts.c.signal.label("title"),
            alerts.c.status.label("status"),
            alerts.c.created_at.label("created_at"),
        ).where(alerts.c.status != resolved),
        select(
            literal(ItemKind.REPORT.value),
            reports.c.id,
            reports.c.reported_id,
            literal(REPORT_TITLE),
            reports.c.status,
            reports.c.at,
        ).where(reports.c.status != resolved),
    ).subquery("items")
    minors = (
        select(
            reports.c.reported_id.label("account_id"),
            func.count(distinct(reports.c.reporter_id)).label("n"),
        )
        .where(
            reports.c.status != resolved,
            reports.c.reporter_band != _ADULT,
            reports.c.reported_id.is_not(None),
            reports.c.reporter_id.is_not(None),
        )
        .group_by(reports.c.reported_id)
        .subquery("minors")
    )
    open_alerts = (
        select(alerts.c.subject.label("account_id"), func.count().label("n"))
        .where(alerts.c.status != resolved)
        .group_by(alerts.c.subject)
        .subquery("open_alerts")
    )
    active = (
        select(restriction_rows.c.account_id.label("account_id"))
        .where(restriction_rows.c.lifted_at.is_(None))
        .distinct()
        .subquery("active")
    )
    minor_reporters = func.coalesce(minors.c.n, 0)
    alerts_open = func.coalesce(open_alerts.c.n, 0)
    restricted = case((active.c.account_id.is_(None), 0), else_=1)
    return (
        select(
            items,
            minor_reporters.label("minor_reporters"),
            alerts_open.label("open_alerts"),
            restricted.label("restricted"),
        )
        .select_from(items)
        .outerjoin(minors, minors.c.account_id == items.c.account_id)
        .outerjoin(open_alerts, open_alerts.c.account_id == items.c.account_id)
        .outerjoin(active, active.c.account_id == items.c.account_id)
        .order_by(
            restricted.desc(),
            (minor_reporters + alerts_open).desc(),
            items.c.created_at,
            items.c.id,
        )
    )


def _queue_item(row: Any) -> QueueItem:
    restricted = bool(row.restricted)
    minors, alerts_open = int(row.minor_reporters), int(row.open_alerts)
    reasons = []
    if restricted:
        reasons.append("account restricted, awaiting a decision")
    if minors:
        reasons.append(f"reported by {minors} under-18 account{'s' if minors != 1 else ''}")
    if alerts_open:
        reasons.append(f"{alerts_open} open alert{'s' if alerts_open != 1 else ''} on the account")
    return QueueItem(
        kind=ItemKind(row.kind),
        id=row.id,
        account_id=row.account_id,
        title=row.title,
        status=ItemStatus(row.status),
        created_at=row.created_at,
        restricted=restricted,
        minor_reporters=minors,
        open_alerts=alerts_open,
        reasons=tuple(reasons),
    )
