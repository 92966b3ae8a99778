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

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

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

    def urgency(self) -> tuple[int, int, float, str]:
        return (0 if self.restricted else 1, -self.weight, self.created_at, self.id)

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


def _plain(row: Any) -> dict[str, Any]:
    # Row keys can be SQLAlchemy's `quoted_name` (a str subclass JSON encoders refuse).
    return {str(key): value for key, value in row.items()}


class ModerationQueue:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def open_items(self, *, limit: int = 500) -> list[QueueItem]:
        """Open and acknowledged items, most urgent first."""
        resolved = ItemStatus.RESOLVED.value
        async with self._engine.connect() as conn:
            alert_rows = (
                await conn.execute(
                    select(
                        alerts.c.id,
                        alerts.c.subject,
                        alerts.c.signal,
                        alerts.c.status,
                        alerts.c.created_at,
                    ).where(alerts.c.status != resolved)
                )
            ).all()
            report_rows = (
                await conn.execute(
                    select(
                        reports.c.id,
                        reports.c.reported_id,
                        reports.c.reporter_id,
                        reports.c.reporter_band,
                        reports.c.status,
                        reports.c.at,
                    ).where(reports.c.status != resolved)
                )
            ).all()
            accounts = {r.subject for r in alert_rows} | {
                r.reported_id for r in report_rows if r.reported_id
            }
            restricted: set[str] = set()
            if accounts:
                restricted = {
                    r[0]
                    for r in await conn.execute(
                        select(restriction_rows.c.account_id)
                        .where(
                            restriction_rows.c.lifted_at.is_(None),
                            restriction_rows.c.account_id.in_(accounts),
                        )
                        .distinct()
                    )
                }
        reporters: dict[str, set[str]] = defaultdict(set)
        for r in report_rows:
            if r.reported_id and r.reporter_id and r.reporter_band != _ADULT:
                reporters[r.reported_id].add(r.reporter_id)
        open_alerts: dict[str, int] = defaultdict(int)
        for a in alert_rows:
            open_alerts[a.subject] += 1

        def item(
            kind: ItemKind, item_id: str, account: str | None, title: str, status: str, at: float
        ) -> QueueItem:
            minors = len(reporters.get(account, ())) if account else 0
            alerts_open = open_alerts.get(account, 0) if account else 0
            is_restricted = account in restricted if account else False
            reasons = []
            if is_restricted:
                reasons.append("account restricted, awaiting a decision")
            if minors:
                reasons.append(f"reported by {minors} under-18 account{'s' if minors != 1 else ''}")
            if alerts_open:
                reasons.append(
                    f"{alerts_open} open alert{'s' if alerts_open != 1 else ''} on the account"
                )
            return QueueItem(
                kind,
                item_id,
                account,
                title,
                ItemStatus(status),
                at,
                is_restricted,
                minors,
                alerts_open,
                tuple(reasons),
            )

        items = [
            item(ItemKind.ALERT, r.id, r.subject, r.signal, r.status, r.created_at)
            for r in alert_rows
        ]
        items += [
            item(ItemKind.REPORT, r.id, r.reported_id, REPORT_TITLE, r.status, r.at)
            for r in report_rows
        ]
        items.sort(key=QueueItem.urgency)
        return items[:limit]

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
                    for r in (
                        await conn.execute(
                            select(
                                alerts.c.id,
                                alerts.c.signal,
                                alerts.c.status,
                                alerts.c.created_at,
                                alerts.c.counts,
                                alerts.c.reason,
                            )
                            .where(alerts.c.subject == account)
                            .order_by(alerts.c.created_at.desc(), alerts.c.id)
                        )
                    ).mappings()
                ]
                account_reports = [
                    _plain(r)
                    for r in (
                        await conn.execute(
                            select(
                                reports.c.id,
                                reports.c.at,
                                reports.c.reporter_id,
                                reports.c.reporter_band,
                                reports.c.reported_band,
                                reports.c.status,
                            )
                            .where(reports.c.reported_id == account)
                            .order_by(reports.c.at.desc(), reports.c.id)
                        )
                    ).mappings()
                ]
                account_restrictions = [
                    _plain(r)
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
                            .where(restriction_rows.c.account_id == account)
                            .order_by(restriction_rows.c.created_at.desc())
                        )
                    ).mappings()
                ]
                account_actions = [
                    ActionRecord.from_row(r)
                    for r in (
                        await conn.execute(
                            select(moderation_actions)
                            .where(
                                moderation_actions.c.account_id == account,
                                moderation_actions.c.item_id != ref.id,
                            )
                            .order_by(moderation_actions.c.at.desc(), moderation_actions.c.id)
                        )
                    ).mappings()
                ]
            actions = [
                ActionRecord.from_row(r)
                for r in (
                    await conn.execute(
                        select(moderation_actions)
                        .where(moderation_actions.c.item_id == ref.id)
                        .order_by(moderation_actions.c.at, moderation_actions.c.id)
                    )
                ).mappings()
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
