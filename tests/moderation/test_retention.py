"""Retention: old decision-log rows and evidence go, the transparency figures stay the same."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.alerts.tables import alerts
from safe_accounts.clock import FrozenClock
from safe_accounts.decisions.table import decision_log
from safe_accounts.moderation.retention import InvalidRetention, purge
from safe_accounts.moderation.tables import reports
from safe_accounts.moderation.transparency import Period, transparency_report

from .records import END, EXPECTED_ALLOWED, FIRST, LAST, T0, add_allowed, build, decision

D = 86_400
# Thirty days after the period; purging what is older than ten days cuts at the Monday
# after the period (END), so the whole period is purged and the row after it is not.
NOW = T0 + 30 * D


def _figures(document: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v for k, v in document.items() if k not in {"generated_at", "folded_before", "notes"}
    }


async def _report(engine: AsyncEngine, first: date = FIRST, last: date = LAST) -> dict[str, Any]:
    report = await transparency_report(engine, Period.of(first, last), clock=FrozenClock(NOW))
    return report.to_json()


async def _count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_figures_are_the_same_before_and_after_a_purge(engine: AsyncEngine) -> None:
    await build(engine)
    before = await _report(engine)
    wider_before = await _report(engine, date(2025, 12, 29), date(2026, 1, 25))

    done = await purge(engine, older_than_days=10, clock=FrozenClock(NOW))

    assert done.folded_before == END
    assert done.decisions_deleted == 7  # every row before END; d-after stays
    assert await _count(engine, decision_log) == 1
    after = await _report(engine)
    assert _figures(after) == _figures(before)
    assert _figures(await _report(engine, date(2025, 12, 29), date(2026, 1, 25))) == _figures(
        wider_before
    )
    assert after["folded_before"] == "2026-01-19"


async def test_allowed_decisions_estimated_from_sampled_rows_survive_a_purge(engine: AsyncEngine) -> None:
    await build(engine)
    await add_allowed(engine)
    before = await _report(engine)
    wider_before = await _report(engine, date(2025, 12, 29), date(2026, 1, 25))
    assert before["decisions_allowed"] == EXPECTED_ALLOWED

    await purge(engine, older_than_days=10, clock=FrozenClock(NOW))

    assert await _count(engine, decision_log) == 2  # d-after and p-after
    after = await _report(engine)
    assert after["decisions_allowed"] == EXPECTED_ALLOWED  # estimated, and labelled so, as before
    assert _figures(after) == _figures(before)
    assert _figures(await _report(engine, date(2025, 12, 29), date(2026, 1, 25))) == _figures(
        wider_before
    )


async def test_a_second_purge_changes_no_figure(engine: AsyncEngine) -> None:
    await build(engine)
    before = await _report(engine)
    await purge(engine, older_than_days=10, clock=FrozenClock(NOW))
    again = await purge(engine, older_than_days=10, clock=FrozenClock(NOW))
    assert (
        again.decisions_deleted,
        again.weeks_folded,
        again.reports_erased,
        again.evidence_cleared,
    ) == (0, 0, 0, 0)
    assert _figures(await _report(engine)) == _figures(before)


async def test_a_row_logged_late_into_a_purged_week_is_folded_by_the_next_purge(
    engine: AsyncEngine,
) -> None:
    await build(engine)
    await purge(engine, older_than_days=10, clock=FrozenClock(NOW))
    async with engine.begin() as conn:
        await conn.execute(
            decision_log.insert(), [decision("late", T0 + 2 * D, "direct_message", "13_15")]
        )
    await purge(engine, older_than_days=10, clock=FrozenClock(NOW))
    after = await _report(engine)
    assert after["stranger_contacts_blocked"]["total"] == 5


async def test_resolved_reports_lose_their_account_ids_and_resolved_alerts_their_evidence(
    engine: AsyncEngine,
) -> None:
    await build(engine)
    done = await purge(engine, older_than_days=10, clock=FrozenClock(NOW))
    async with engine.connect() as conn:
        kept = {r.id: (r.reporter_id, r.reported_id) for r in await conn.execute(select(reports))}
        evidence = {
            r.id: r.evidence for r in await conn.execute(select(alerts.c.id, alerts.c.evidence))
        }
    assert kept["r1"] == (None, None)  # resolved, old: anonymous now
    assert kept["r2"] == ("young", "adult-x")  # still open: a moderator needs it
    assert kept["r-after"] == ("kid", "adult-w")  # younger than the cut-off
    assert done.reports_erased == 1
    assert evidence["a1"] == [] and evidence["a2"] == [] and evidence["a-before"] == []
    assert len(evidence["a3"]) == 2  # open
    assert done.evidence_cleared == 3


async def test_only_whole_weeks_older_than_the_retention_go(engine: AsyncEngine) -> None:
    await build(engine)
    # Wednesday of the period's second week, minus 0 days: the cut-off is that week's Monday.
    done = await purge(engine, older_than_days=0, clock=FrozenClock(T0 + 9 * D + 3600))
    assert done.folded_before == T0 + 7 * D
    async with engine.connect() as conn:
        left = sorted(r[0] for r in await conn.execute(select(decision_log.c.id)))
    assert left == ["d-after", "d2"]


async def test_a_period_cut_inside_a_purged_week_says_so(engine: AsyncEngine) -> None:
    await build(engine)
    await purge(engine, older_than_days=10, clock=FrozenClock(NOW))
    notes = (await _report(engine, date(2026, 1, 7), LAST))["notes"]
    assert any("starts inside a purged week" in n for n in notes)


@pytest.mark.parametrize("days", [-1, 40_000])
async def test_a_retention_out_of_range_is_refused(engine: AsyncEngine, days: int) -> None:
    with pytest.raises(InvalidRetention):
        await purge(engine, older_than_days=days)
