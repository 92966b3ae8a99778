"""Retention: `safe-accounts purge --older-than DAYS`.

What goes, once older than DAYS:

- decision-log rows: deleted, after their enforced denials, and the decisions `then: allow`
  rules recorded (estimated where sampled), are folded into weekly totals
  (`safe_accounts_weekly_figures`) that the transparency report reads instead;
- evidence on resolved alerts: cleared (the alert, its signal and counts stay);
- account ids and the reporter's words on resolved reports: erased (the report stays as an
  anonymous record of its time, bands and outcome).

A case under legal hold keeps everything: its reports and its alerts' evidence are left as
they are, and the account's decision-log rows are copied to `safe_accounts_held_decisions`
(for its evidence bundle) before the log's rows go - the log itself is folded and purged as
always, so the report's figures do not depend on holds.

So every figure of the transparency report is the same before and after a purge. Only
whole weeks (Monday 00:00 UTC) are purged: the cut-off is rounded down to a Monday, so
nothing younger than DAYS goes, and a week is never half in the log and half folded.
Open items keep everything: a moderator still needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..alerts.tables import alerts
from ..clock import SYSTEM_CLOCK, Clock
from ..decisions.table import decision_log
from ..errors import SafeAccountsError, storage_errors
from .model import ItemStatus
from .tables import case_items, cases, held_decisions, purges, reports, weekly_figures
from .transparency import (
    CONTACTS_BLOCKED,
    DECISIONS_ALLOWED,
    DECISIONS_ALLOWED_SAMPLED,
    EVERY_BAND,
    allowed_by_week,
    blocked_contact,
    estimate,
)
from .weeks import DAY, floor_to_week, week_of, week_start

# pg_advisory_xact_lock key for purges (the migrations use another): one purge at a time.
_PG_LOCK_KEY = 0x5AFE_ACC0_0000_0006 - (1 << 63)
MAX_DAYS = 36_500


class InvalidRetention(SafeAccountsError, ValueError):
    """A retention period that cannot be used."""


@dataclass(frozen=True, slots=True)
class PurgeResult:
    folded_before: int  # epoch seconds of the Monday everything before was purged
    decisions_deleted: int
    weeks_folded: int
    reports_erased: int
    evidence_cleared: int
    decisions_held: int = 0  # decision-log rows copied for cases under legal hold


# What `on_step` hears, in order: one transaction, five steps.
PURGE_STEPS = (
    "keeping what legal holds need",
    "folding weekly totals",
    "deleting decision-log rows",
    "erasing resolved reports' ids",
    "clearing resolved alerts' evidence",
)


async def purge(
    engine: AsyncEngine,
    *,
    older_than_days: int,
    clock: Clock = SYSTEM_CLOCK,
    on_step: Callable[[str], None] | None = None,
) -> PurgeResult:
    """Purge what is older than `older_than_days`; `on_step` is told each of `PURGE_STEPS`
    as it begins (the command line's progress bar)."""
    step = on_step or (lambda _name: None)
    if not isinstance(older_than_days, int) or older_than_days < 0:
        raise InvalidRetention(
            f"--older-than must be a whole number of days, 0 or more (got {older_than_days!r})"
        )
    if older_than_days > MAX_DAYS:
        raise InvalidRetention(f"--older-than is at most {MAX_DAYS} days")
    now = clock.now()
    cutoff = floor_to_week(now - older_than_days * DAY)
    # One transaction: a purge that fails changes nothing.
    with storage_errors("the purge"):
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
            step(PURGE_STEPS[0])
            held = await _keep_held_decisions(conn, cutoff)
            held_items = select(case_items.c.item_id).join(
                cases, cases.c.id == case_items.c.case_id
            ).where(cases.c.held_at.is_not(None))
            step(PURGE_STEPS[1])
            weeks = await _fold_decisions(conn, cutoff)
            step(PURGE_STEPS[2])
            deleted = (
                await conn.execute(decision_log.delete().where(decision_log.c.at < cutoff))
            ).rowcount
            step(PURGE_STEPS[3])
            erased = (
                await conn.execute(
                    update(reports)
                    .where(
                        reports.c.at < cutoff,
                        reports.c.status == ItemStatus.RESOLVED.value,
                        or_(
                            reports.c.reporter_id.is_not(None),
                            reports.c.reported_id.is_not(None),
                            reports.c.text.is_not(None),
                        ),
                        reports.c.id.not_in(held_items),
                    )
                    .values(reporter_id=None, reported_id=None, text=None)
                )
            ).rowcount
            step(PURGE_STEPS[4])
            cleared = await _clear_evidence(conn, cutoff, held_items)
            previous = (
                await conn.execute(select(func.max(purges.c.folded_before)))
            ).scalar_one_or_none()
            folded_before = cutoff if previous is None else max(previous, cutoff)
            await conn.execute(
                purges.insert().values(
                    at=now,
                    older_than_days=older_than_days,
                    folded_before=folded_before,
                    decisions_deleted=deleted,
                    reports_erased=erased,
                    evidence_cleared=cleared,
                )
            )
    return PurgeResult(folded_before, deleted, weeks, erased, cleared, held)


async def _keep_held_decisions(conn: AsyncConnection, cutoff: int) -> int:
    """Copy the decision-log rows about each held case's account that this purge deletes
    (the account's own decisions) into `held_decisions`; returns how many were copied."""
    copied = 0
    held = (
        await conn.execute(
            select(cases.c.id, cases.c.account_id)
            .where(cases.c.held_at.is_not(None))
            .order_by(cases.c.held_at, cases.c.id)
        )
    ).all()
    for case_id, account in held:
        already = select(held_decisions.c.id)
        rows = (
            await conn.execute(
                select(decision_log).where(
                    decision_log.c.at < cutoff,
                    decision_log.c.actor_id == account,
                    decision_log.c.id.not_in(already),
                )
            )
        ).mappings().all()
        if rows:
            await conn.execute(
                held_decisions.insert(), [{**dict(r), "case_id": case_id} for r in rows]
            )
            copied += len(rows)
    return copied


async def _fold_decisions(conn: AsyncConnection, cutoff: int) -> int:
    """Add the enforced denials, and the decisions allowed by `then: allow` rules, before
    `cutoff` to the weekly totals; returns the weeks touched.

    Totals are added to, not replaced: a row written late (after an earlier purge of its
    week) is folded into that week by the next purge."""
    band = func.coalesce(decision_log.c.target_band, "unknown")
    week = week_of(decision_log.c.at)
    folded = [
        (week_start(int(w)), CONTACTS_BLOCKED, action, target_band, int(count))
        for w, action, target_band, count in await conn.execute(
            select(week, decision_log.c.action, band, func.count())
            .where(
                blocked_contact(),
                decision_log.c.at < cutoff,
            )
            .group_by(week, decision_log.c.action, band)
        )
    ]
    for w, action, stands_for, sampled in await conn.execute(
        allowed_by_week(decision_log.c.at < cutoff)
    ):
        starts = week_start(int(w))
        folded.append((starts, DECISIONS_ALLOWED, action, EVERY_BAND, estimate(float(stands_for))))
        if sampled:
            folded.append((starts, DECISIONS_ALLOWED_SAMPLED, action, EVERY_BAND, int(sampled)))
    for starts, figure, action, target_band, count in folded:
        key = and_(
            weekly_figures.c.week_start == starts,
            weekly_figures.c.figure == figure,
            weekly_figures.c.action == action,
            weekly_figures.c.band == target_band,
        )
        done = await conn.execute(
            update(weekly_figures).where(key).values(count=weekly_figures.c.count + count)
        )
        if done.rowcount == 0:
            await conn.execute(
                weekly_figures.insert().values(
                    week_start=starts,
                    figure=figure,
                    action=action,
                    band=target_band,
                    count=count,
                )
            )
    return len({starts for starts, *_ in folded})


async def _clear_evidence(conn: AsyncConnection, cutoff: int, held_items: Any) -> int:
    # JSON has no portable equality: find the non-empty ones here.
    rows = await conn.execute(
        select(alerts.c.id, alerts.c.evidence).where(
            alerts.c.created_at < cutoff,
            alerts.c.status == ItemStatus.RESOLVED.value,
            alerts.c.id.not_in(held_items),
        )
    )
    ids = [alert_id for alert_id, evidence in rows if evidence]
    for chunk in range(0, len(ids), 500):
        await conn.execute(
            update(alerts).where(alerts.c.id.in_(ids[chunk : chunk + 500])).values(evidence=[])
        )
    return len(ids)
