"""The transparency report: what happened in a period, computed by SQL from stored records.

Every figure is defined in docs/transparency.md. Counts are SQL aggregates; the response
times' median and 90th percentile are computed here from the durations SQL selects (the
same way on SQLite and PostgreSQL). Blocked contacts before the latest purge come from
the weekly figures the purge folded the decision log into (retention.py).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, case, distinct, exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..alerts.tables import alerts
from ..alerts.tables import restrictions as restriction_rows
from ..clock import SYSTEM_CLOCK, Clock
from ..decisions.table import decision_log
from ..errors import SafeAccountsError
from .model import RESOLVING, ItemKind
from .tables import case_items, moderation_actions, purges, reports, weekly_figures
from .weeks import as_date, day_start, floor_to_week, monday_of, week_index, week_of, week_start

CONTACTS_BLOCKED = "contacts_blocked"
# The weekly totals a purge keeps of the decisions `then: allow` rules recorded: their
# estimate (each row standing for 1/sample_rate decisions), and how many of the rows behind
# it were sampled. Kept per kind, under this band (the totals' key has one; these have none).
DECISIONS_ALLOWED = "decisions_allowed"
DECISIONS_ALLOWED_SAMPLED = "decisions_allowed_sampled"
EVERY_BAND = "all"


def blocked_contact() -> Any:
    """The decision-log rows that count as a stranger contact blocked: enforced denials by a
    rule of the policy. A route whose outcome is fixed (rule `route:NAME`) refuses everyone
    alike, whoever they reach: its rows stay in the log and are not counted here."""
    return and_(
        decision_log.c.mode == "enforce",
        decision_log.c.outcome == "deny",
        decision_log.c.rule.not_like("route:%"),
    )


def allowed_decision() -> Any:
    """The decision-log rows of `then: allow` rules (in either mode): what they recorded."""
    return decision_log.c.outcome == "allow"


def allowed_by_week(where: Any) -> Any:
    """Per week and kind of the allowed rows `where` selects: the decisions they stand for
    (a sampled row for 1/sample_rate of them, any other for itself) and how many of them
    were sampled. `estimate` rounds the first."""
    week = week_of(decision_log.c.at)
    return (
        select(
            week,
            decision_log.c.action,
            func.sum(1.0 / func.coalesce(decision_log.c.sample_rate, 1.0)),
            func.count(decision_log.c.sample_rate),
        )
        .where(allowed_decision(), where)
        .group_by(week, decision_log.c.action)
    )


def estimate(stands_for: float) -> int:
    """A week's decisions of one kind, estimated from its rows: rounded week by week, the
    way a purge keeps them, so a report reads the same before and after one."""
    return round(stands_for)


SYSTEM = "system"  # `created_by` of restrictions an alert made
_RESOLVING = sorted(a.value for a in RESOLVING)
MAX_DAYS = 3660
DEFAULT_WEEKS = 12  # the period shown when none is asked for


class InvalidPeriod(SafeAccountsError, ValueError):
    """A report period that cannot be used: a bad date, or --from after --to."""


@dataclass(frozen=True, slots=True)
class Period:
    """Whole UTC days, `first` to `last` inclusive: [start, end) in epoch seconds."""

    first: date
    last: date

    @classmethod
    def parse(cls, first: str, last: str, *, labels: tuple[str, str] = ("--from", "--to")) -> Period:
        """`labels` name the two dates in a message (the command line's options, a page's fields)."""
        return cls.of(_date(first, labels[0]), _date(last, labels[1]))

    @classmethod
    def around(
        cls,
        first: str | None,
        last: str | None,
        *,
        today: float | date,
        weeks: int = DEFAULT_WEEKS,
        labels: tuple[str, str] = ("--from", "--to"),
    ) -> Period:
        """The period asked for, the missing end filled in: without `last`, today; without
        `first`, the Monday `weeks - 1` weeks before `last`'s. Neither: the last `weeks`
        weeks up to today - what the moderation app and `report transparency` both show."""
        end = _date(last, labels[1]) if last else (today if isinstance(today, date) else as_date(today))
        start = _date(first, labels[0]) if first else monday_of(end) - timedelta(weeks=weeks - 1)
        return cls.of(start, end)

    @classmethod
    def of(cls, first: date, last: date) -> Period:
        if first > last:
            raise InvalidPeriod(f"the period starts ({first}) after it ends ({last})")
        if (last - first).days >= MAX_DAYS:
            raise InvalidPeriod(f"a report covers at most {MAX_DAYS} days")
        return cls(first, last)

    @property
    def start(self) -> int:
        return day_start(self.first)

    @property
    def end(self) -> int:
        return day_start(self.last + timedelta(days=1))

    @property
    def weeks(self) -> range:
        """Week numbers of every week the period touches."""
        return range(week_index(self.start), week_index(self.end - 1) + 1)


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidPeriod(f"{option} {text!r} is not a date (expected YYYY-MM-DD)") from None


@dataclass(frozen=True, slots=True)
class Durations:
    """Seconds from an item's creation to a moderator's action, over the items concerned."""

    count: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Durations:
        ordered = sorted(seconds)
        return cls(len(ordered), _ms(percentile(ordered, 0.5)), _ms(percentile(ordered, 0.9)))

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "median_seconds": self.median, "p90_seconds": self.p90}


def percentile(ordered: Sequence[float], p: float) -> float | None:
    """Linear interpolation between the closest ranks (PostgreSQL's percentile_cont)."""
    if not ordered:
        return None
    rank = p * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _ms(seconds: float | None) -> float | None:
    # Stored times are floats: keep float noise (5580.000000000001) out of published figures.
    return None if seconds is None else round(seconds, 3)


@dataclass(frozen=True, slots=True)
class DueFigures:
    """Decisions measured against the policy's due times (`moderation.due`)."""

    decided: int  # items with a due time whose first resolving action is in the period
    within_due: int  # ... of which that action came by the due time
    overdue_at_end: int  # items with a due time, undecided at the end of the period and past it

    @property
    def share_within_due(self) -> float | None:
        return None if not self.decided else round(self.within_due / self.decided, 4)

    def to_json(self) -> dict[str, Any]:
        return {
            "decided": self.decided,
            "within_due": self.within_due,
            "share_within_due": self.share_within_due,
            "overdue_at_end": self.overdue_at_end,
        }


@dataclass(frozen=True, slots=True)
class AllowedFigures:
    """The decisions `then: allow` rules recorded, by kind. A rule that samples its log
    (`log: {sample: R}`) writes a share R of its decisions, each row standing for 1/R: a kind
    with sampled rows behind it is an estimate, and says so."""

    by_kind: dict[str, int]  # decisions, estimated where rows were sampled
    sampled_rows: dict[str, int]  # of the rows behind each, how many were sampled

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())

    @property
    def estimated(self) -> bool:
        return any(self.sampled_rows.values())

    def is_estimate(self, kind: str) -> bool:
        return self.sampled_rows.get(kind, 0) > 0

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "estimated": self.estimated,
            "sampled_rows": sum(self.sampled_rows.values()),
            "by_kind": [
                {
                    "kind": kind,
                    "count": count,
                    "estimated": self.is_estimate(kind),
                    "sampled_rows": self.sampled_rows.get(kind, 0),
                }
                for kind, count in sorted(self.by_kind.items())
            ],
        }


@dataclass(frozen=True, slots=True)
class Week:
    start: date  # its Monday
    reports: int
    alerts: int
    contacts_blocked: int
    actions: int
    median_first_response: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "week_start": self.start.isoformat(),
            "reports": self.reports,
            "alerts": self.alerts,
            "contacts_blocked": self.contacts_blocked,
            "actions": self.actions,
            "median_first_response_seconds": self.median_first_response,
        }


@dataclass(frozen=True, slots=True)
class TransparencyReport:
    period: Period
    generated_at: float
    reports_received: int
    reports_by_reporter_band: dict[str, int]
    alerts_by_signal: dict[str, int]
    # Distinct accounts the alerts were about: one account's alerts are one person's, however
    # many signals they crossed.
    accounts_alerted: int
    contacts_blocked: dict[tuple[str, str], int]  # (action, target band) -> count
    accounts_restricted: int
    accounts_restricted_automatically: int
    accounts_restricted_by_moderators: int
    first_response: Durations
    resolution: Durations
    actions_by_type: dict[str, int]
    open_alerts: int  # at the end of the period
    open_reports: int
    weeks: tuple[Week, ...]
    folded_before: int | None  # blocked contacts before this instant come from weekly figures
    notes: tuple[str, ...]
    due: DueFigures = DueFigures(0, 0, 0)
    allowed: AllowedFigures = AllowedFigures({}, {})

    @property
    def alerts_raised(self) -> int:
        return sum(self.alerts_by_signal.values())

    @property
    def contacts_blocked_total(self) -> int:
        return sum(self.contacts_blocked.values())

    @property
    def actions_taken(self) -> int:
        return sum(self.actions_by_type.values())

    @property
    def items_open(self) -> int:
        return self.open_alerts + self.open_reports

    def to_json(self) -> dict[str, Any]:
        return {
            "period": {"from": self.period.first.isoformat(), "to": self.period.last.isoformat()},
            "generated_at": self.generated_at,
            "child_endangerment_reports": {
                "received": self.reports_received,
                "by_reporter_band": dict(self.reports_by_reporter_band),
            },
            "grooming_alerts": {
                "raised": self.alerts_raised,
                "accounts_alerted": self.accounts_alerted,
                "by_signal": dict(self.alerts_by_signal),
            },
            "stranger_contacts_blocked": {
                "total": self.contacts_blocked_total,
                "by_kind_and_band": [
                    {"kind": action, "target_band": band, "count": count}
                    for (action, band), count in sorted(self.contacts_blocked.items())
                ],
            },
            "decisions_allowed": self.allowed.to_json(),
            "accounts_restricted": {
                "total": self.accounts_restricted,
                "automatically": self.accounts_restricted_automatically,
                "by_moderators": self.accounts_restricted_by_moderators,
            },
            "time_to_first_response": self.first_response.to_json(),
            "time_to_resolution": self.resolution.to_json(),
            "due_times": self.due.to_json(),
            "actions_taken": {"total": self.actions_taken, "by_type": dict(self.actions_by_type)},
            "items_open_at_end": {
                "total": self.items_open,
                "alerts": self.open_alerts,
                "reports": self.open_reports,
            },
            "weekly": [w.to_json() for w in self.weeks],
            "folded_before": None
            if self.folded_before is None
            else as_date(self.folded_before).isoformat(),
            "notes": list(self.notes),
        }


async def transparency_report(
    engine: AsyncEngine, period: Period, *, clock: Clock = SYSTEM_CLOCK
) -> TransparencyReport:
    async with engine.connect() as conn:
        return await _compute(conn, period, clock.now())


async def _compute(conn: AsyncConnection, period: Period, now: float) -> TransparencyReport:
    start, end = period.start, period.end
    weeks = period.weeks

    # --- reports received ----------------------------------------------------------------
    in_period = and_(reports.c.at >= start, reports.c.at < end)
    by_band = await _pairs(
        conn,
        select(reports.c.reporter_band, func.count())
        .where(in_period)
        .group_by(reports.c.reporter_band),
    )
    reports_weekly = await _weekly(conn, reports.c.at, in_period)

    # --- alerts raised by signal -----------------------------------------------------------
    alerts_in = and_(alerts.c.created_at >= start, alerts.c.created_at < end)
    by_signal = await _pairs(
        conn, select(alerts.c.signal, func.count()).where(alerts_in).group_by(alerts.c.signal)
    )
    alerts_weekly = await _weekly(conn, alerts.c.created_at, alerts_in)
    accounts_alerted = (
        await conn.execute(select(func.count(distinct(alerts.c.subject))).where(alerts_in))
    ).scalar_one()

    # --- stranger contacts blocked: the decision log, and the weeks purges folded ----------
    folded_before = (
        await conn.execute(select(func.max(purges.c.folded_before)))
    ).scalar_one_or_none()
    raw_from = start if folded_before is None else max(start, folded_before)
    blocked: dict[tuple[str, str], int] = defaultdict(int)
    blocked_weekly: dict[int, int] = defaultdict(int)
    band = func.coalesce(decision_log.c.target_band, "unknown")
    week = week_of(decision_log.c.at)
    for action, target_band, week_no, count in await conn.execute(
        select(decision_log.c.action, band, week, func.count())
        .where(
            blocked_contact(),
            decision_log.c.at >= raw_from,
            decision_log.c.at < end,
        )
        .group_by(decision_log.c.action, band, week)
    ):
        blocked[(action, target_band)] += count
        blocked_weekly[int(week_no)] += count
    if folded_before is not None and start < folded_before:
        for action, target_band, starts, count in await conn.execute(
            select(
                weekly_figures.c.action,
                weekly_figures.c.band,
                weekly_figures.c.week_start,
                weekly_figures.c.count,
            ).where(
                weekly_figures.c.figure == CONTACTS_BLOCKED,
                weekly_figures.c.week_start >= start,
                weekly_figures.c.week_start < min(end, folded_before),
            )
        ):
            blocked[(action, target_band)] += count
            blocked_weekly[week_index(starts)] += count

    allowed = await _allowed(conn, start, end, raw_from, folded_before)

    # --- accounts restricted -----------------------------------------------------------------
    restricted_in = and_(
        restriction_rows.c.created_at >= start, restriction_rows.c.created_at < end
    )
    distinct_accounts = func.count(distinct(restriction_rows.c.account_id))
    total = (await conn.execute(select(distinct_accounts).where(restricted_in))).scalar_one()
    automatic = (
        await conn.execute(
            select(distinct_accounts).where(restricted_in, restriction_rows.c.created_by == SYSTEM)
        )
    ).scalar_one()
    by_moderators = (
        await conn.execute(
            select(distinct_accounts).where(restricted_in, restriction_rows.c.created_by != SYSTEM)
        )
    ).scalar_one()

    # --- response times ------------------------------------------------------------------
    first = await _first_actions(conn, start, end, resolving=False)
    resolved = await _first_actions(conn, start, end, resolving=True)
    first_weekly: dict[int, list[float]] = defaultdict(list)
    for at, seconds in first:
        first_weekly[week_index(at)].append(seconds)

    # --- actions taken -------------------------------------------------------------------
    # An action on a case is stored once per item it covers: it counts once.
    decided = moderation_actions.c
    taken = (
        select(decided.action.label("action"), decided.at.label("at"))
        .where(decided.at >= start, decided.at < end)
        .group_by(func.coalesce(decided.case_id, decided.id), decided.action, decided.at, decided.by)
        .subquery("taken")
    )
    by_type = await _pairs(
        conn, select(taken.c.action, func.count()).group_by(taken.c.action)
    )
    actions_weekly = await _weekly(conn, taken.c.at, true())

    due = await _due_figures(conn, start, end)

    # --- items still open at the end of the period ----------------------------------------
    open_alerts = await _open_at(conn, alerts, alerts.c.created_at, ItemKind.ALERT, end)
    open_reports = await _open_at(conn, reports, reports.c.at, ItemKind.REPORT, end)

    week_rows = tuple(
        Week(
            start=as_date(week_start(w)),
            reports=reports_weekly.get(w, 0),
            alerts=alerts_weekly.get(w, 0),
            contacts_blocked=blocked_weekly.get(w, 0),
            actions=actions_weekly.get(w, 0),
            median_first_response=_ms(percentile(sorted(first_weekly[w]), 0.5))
            if w in first_weekly
            else None,
        )
        for w in weeks
    )
    return TransparencyReport(
        period=period,
        generated_at=now,
        reports_received=sum(by_band.values()),
        reports_by_reporter_band=by_band,
        alerts_by_signal=by_signal,
        accounts_alerted=int(accounts_alerted),
        contacts_blocked=dict(blocked),
        accounts_restricted=int(total),
        accounts_restricted_automatically=int(automatic),
        accounts_restricted_by_moderators=int(by_moderators),
        first_response=Durations.of([s for _, s in first]),
        resolution=Durations.of([s for _, s in resolved]),
        actions_by_type=by_type,
        open_alerts=open_alerts,
        open_reports=open_reports,
        weeks=week_rows,
        folded_before=folded_before,
        notes=_notes(period, folded_before),
        due=due,
        allowed=allowed,
    )


async def _allowed(
    conn: AsyncConnection, start: int, end: int, raw_from: int, folded_before: int | None
) -> AllowedFigures:
    """The decisions allowed by `then: allow` rules, week by week: from the log from
    `raw_from` on, from the weekly totals the purges kept before it."""
    counts: dict[str, int] = defaultdict(int)
    sampled: dict[str, int] = defaultdict(int)
    in_log = and_(decision_log.c.at >= raw_from, decision_log.c.at < end)
    for _week, action, stands_for, sampled_rows in await conn.execute(allowed_by_week(in_log)):
        counts[action] += estimate(float(stands_for))
        sampled[action] += int(sampled_rows)
    if folded_before is not None and start < folded_before:
        for figure, action, count in await conn.execute(
            select(weekly_figures.c.figure, weekly_figures.c.action, weekly_figures.c.count).where(
                weekly_figures.c.figure.in_([DECISIONS_ALLOWED, DECISIONS_ALLOWED_SAMPLED]),
                weekly_figures.c.week_start >= start,
                weekly_figures.c.week_start < min(end, folded_before),
            )
        ):
            (counts if figure == DECISIONS_ALLOWED else sampled)[action] += int(count)
    return AllowedFigures(dict(counts), {kind: sampled.get(kind, 0) for kind in counts})


async def _pairs(conn: AsyncConnection, query: Any) -> dict[str, int]:
    return {
        str(key): int(count)
        for key, count in sorted(await conn.execute(query), key=lambda r: str(r[0]))
    }


async def _weekly(conn: AsyncConnection, column: Any, where: Any) -> dict[int, int]:
    week = week_of(column)
    return {
        int(w): int(n)
        for w, n in await conn.execute(select(week, func.count()).where(where).group_by(week))
    }


async def _first_actions(
    conn: AsyncConnection, start: int, end: int, *, resolving: bool
) -> list[tuple[float, float]]:
    """(when, seconds after the item's creation) of each item's first (resolving) action,
    for the first actions that fall in the period."""
    first_at = func.min(moderation_actions.c.at)
    query = select(first_at, first_at - func.min(moderation_actions.c.item_created_at))
    if resolving:
        query = query.where(moderation_actions.c.action.in_(_RESOLVING))
    query = query.group_by(moderation_actions.c.item_kind, moderation_actions.c.item_id).having(
        and_(first_at >= start, first_at < end)
    )
    return [(float(at), float(seconds)) for at, seconds in await conn.execute(query)]


async def _due_figures(conn: AsyncConnection, start: int, end: int) -> DueFigures:
    """Each item's first resolving action against its due time (from its case)."""
    first_at = func.min(moderation_actions.c.at)
    decided = (
        select(moderation_actions.c.item_id.label("item_id"), first_at.label("at"))
        .where(moderation_actions.c.action.in_(_RESOLVING))
        .group_by(moderation_actions.c.item_id)
        .subquery("decided")
    )
    in_period = and_(decided.c.at >= start, decided.c.at < end, case_items.c.due_at.is_not(None))
    measured = select(
        func.count(),
        func.coalesce(func.sum(case((decided.c.at <= case_items.c.due_at, 1), else_=0)), 0),
    ).select_from(decided.join(case_items, case_items.c.item_id == decided.c.item_id))
    count, within = (await conn.execute(measured.where(in_period))).one()
    # Past due at the end and not decided before it.
    late = select(func.count()).select_from(
        case_items.outerjoin(decided, decided.c.item_id == case_items.c.item_id)
    ).where(
        case_items.c.due_at.is_not(None),
        case_items.c.due_at < end,
        case_items.c.item_created_at < end,
        or_(decided.c.at.is_(None), decided.c.at >= end),
    )
    overdue = int((await conn.execute(late)).scalar_one())
    return DueFigures(int(count), int(within), overdue)


async def _open_at(
    conn: AsyncConnection, table: Any, created: Any, kind: ItemKind, end: int
) -> int:
    resolved_before = exists().where(
        moderation_actions.c.item_kind == kind.value,
        moderation_actions.c.item_id == table.c.id,
        moderation_actions.c.action.in_(_RESOLVING),
        moderation_actions.c.at < end,
    )
    query = select(func.count()).select_from(table).where(created < end, ~resolved_before)
    return int((await conn.execute(query)).scalar_one())


def _notes(period: Period, folded_before: int | None) -> tuple[str, ...]:
    if folded_before is None or period.start >= folded_before:
        return ()
    notes = [
        f"Stranger contacts blocked and decisions allowed before {as_date(folded_before).isoformat()} "
        "come from weekly totals kept when the decision log was purged; a purged week counts in "
        "the period if its Monday does."
    ]
    for edge, name in ((period.start, "starts"), (period.end, "ends")):
        if edge < folded_before and edge != floor_to_week(edge):
            notes.append(
                f"The period {name} inside a purged week: that week's blocked contacts and allowed "
                "decisions are counted whole or not at all (by its Monday)."
            )
    return tuple(notes)
