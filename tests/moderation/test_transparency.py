"""Every figure of the transparency report, against hand-built records (records.py), on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.alerts.tables import alerts
from safe_accounts.clock import FrozenClock
from safe_accounts.moderation.render import to_csv, to_html
from safe_accounts.moderation.transparency import (
    InvalidPeriod,
    Period,
    TransparencyReport,
    percentile,
    transparency_report,
)
from safe_accounts.moderation.weeks import week_start

from .records import EXPECTED, EXPECTED_ALLOWED, FIRST, LAST, T0, add_allowed, alert, build


@pytest.fixture
async def report(engine: AsyncEngine) -> TransparencyReport:
    await build(engine)
    return await transparency_report(
        engine, Period.of(FIRST, LAST), clock=FrozenClock(T0 + 30 * 86_400)
    )


async def test_child_endangerment_reports_received_in_the_period(
    report: TransparencyReport,
) -> None:
    assert report.reports_received == EXPECTED["reports_received"]
    assert report.reports_by_reporter_band == EXPECTED["reports_by_reporter_band"]


async def test_grooming_alerts_raised_by_signal(report: TransparencyReport) -> None:
    assert report.alerts_by_signal == EXPECTED["alerts_by_signal"]
    assert report.alerts_raised == 3


async def test_accounts_alerted_are_counted_apart_from_alerts(engine: AsyncEngine) -> None:
    await build(engine)
    async with engine.begin() as conn:
        # A second alert on an account already alerted in the period: one more alert, no
        # more accounts.
        await conn.execute(
            alerts.insert(), [alert("a1-again", "adult-x", "blocked-by-minors", T0 + 4 * 3600.0)]
        )
    report = await transparency_report(
        engine, Period.of(FIRST, LAST), clock=FrozenClock(T0 + 30 * 86_400)
    )
    assert report.alerts_raised == 4
    assert report.accounts_alerted == 3
    assert report.to_json()["grooming_alerts"]["accounts_alerted"] == 3


async def test_stranger_contacts_blocked_are_enforced_denials_by_kind_and_band(
    report: TransparencyReport,
) -> None:
    # Monitor-mode denials and hides are not blocked contacts; no band counts as "unknown".
    assert report.contacts_blocked == EXPECTED["contacts_blocked"]
    assert report.contacts_blocked_total == 4


async def test_decisions_allowed_are_none_without_allow_rules(report: TransparencyReport) -> None:
    # The monitor-mode denial and the hide are refusals, not allowed decisions.
    assert report.to_json()["decisions_allowed"] == {
        "total": 0, "estimated": False, "sampled_rows": 0, "by_kind": []
    }


@pytest.fixture
async def with_allowed(engine: AsyncEngine) -> TransparencyReport:
    await build(engine)
    await add_allowed(engine)
    return await transparency_report(
        engine, Period.of(FIRST, LAST), clock=FrozenClock(T0 + 30 * 86_400)
    )


async def test_decisions_allowed_scale_sampled_rows_up_by_their_rate(
    with_allowed: TransparencyReport,
) -> None:
    assert with_allowed.to_json()["decisions_allowed"] == EXPECTED_ALLOWED
    # Nothing else moves: allowed rows are never blocked contacts.
    assert with_allowed.contacts_blocked == EXPECTED["contacts_blocked"]


async def test_the_csv_and_html_say_which_allowed_counts_are_estimates(
    with_allowed: TransparencyReport,
) -> None:
    rows = {
        (figure, dimension): value
        for figure, dimension, value in (line.split(",") for line in to_csv(with_allowed).splitlines())
    }
    assert rows[("decisions_allowed", "")] == "42"
    assert rows[("decisions_allowed_sampled_rows", "")] == "6"
    assert rows[("decisions_allowed", "kind=profile_view")] == "31"
    assert rows[("decisions_allowed_sampled_rows", "kind=profile_view")] == "3"
    assert rows[("decisions_allowed_sampled_rows", "kind=contact_request")] == "0"
    html = to_html(with_allowed)
    assert 'id="decisions-allowed">about 42<' in html
    assert "(an estimate: some rules log a sample)" in html
    assert "about 31 (estimate)" in html and "about 10 (estimate)" in html
    assert "<td>contact_request</td>\n  <td class=\"num\">1</td>" in html


async def test_accounts_restricted_are_distinct_accounts(report: TransparencyReport) -> None:
    assert (
        report.accounts_restricted,
        report.accounts_restricted_automatically,
        report.accounts_restricted_by_moderators,
    ) == EXPECTED["accounts_restricted"]


async def test_median_and_p90_time_to_first_response(report: TransparencyReport) -> None:
    first = report.first_response
    assert (first.count, first.median, first.p90) == pytest.approx(EXPECTED["first_response"])


async def test_median_and_p90_time_to_resolution(report: TransparencyReport) -> None:
    resolved = report.resolution
    assert (resolved.count, resolved.median, resolved.p90) == pytest.approx(EXPECTED["resolution"])


async def test_actions_taken_by_type(report: TransparencyReport) -> None:
    assert report.actions_by_type == EXPECTED["actions_by_type"]
    assert report.actions_taken == 6


async def test_items_still_open_at_the_end_of_the_period(report: TransparencyReport) -> None:
    assert (report.open_alerts, report.open_reports) == EXPECTED["open"]
    assert report.items_open == 4


async def test_weekly_trends(report: TransparencyReport) -> None:
    weeks = [
        (
            w.start.isoformat(),
            w.reports,
            w.alerts,
            w.contacts_blocked,
            w.actions,
            w.median_first_response,
        )
        for w in report.weeks
    ]
    assert weeks == EXPECTED["weeks"]


async def test_the_json_document_carries_every_figure(report: TransparencyReport) -> None:
    document = report.to_json()
    assert document["period"] == {"from": "2026-01-05", "to": "2026-01-18"}
    assert document["child_endangerment_reports"]["received"] == 3
    assert document["grooming_alerts"]["by_signal"] == {
        "blocked-by-minors": 1,
        "rejected-by-minors": 2,
    }
    assert {"kind": "direct_message", "target_band": "13_15", "count": 2} in (
        document["stranger_contacts_blocked"]["by_kind_and_band"]
    )
    assert document["accounts_restricted"] == {"total": 2, "automatically": 1, "by_moderators": 2}
    assert document["time_to_first_response"] == {
        "count": 4,
        "median_seconds": 1200.0,
        "p90_seconds": 5580.0,
    }
    assert document["actions_taken"]["total"] == 6
    assert document["items_open_at_end"] == {"total": 4, "alerts": 1, "reports": 3}
    assert document["folded_before"] is None and document["notes"] == []


async def test_an_empty_period_reports_zeros_and_no_durations(engine: AsyncEngine) -> None:
    report = await transparency_report(engine, Period.of(date(2030, 1, 1), date(2030, 1, 1)))
    assert report.reports_received == report.alerts_raised == report.contacts_blocked_total == 0
    assert (
        report.first_response.count,
        report.first_response.median,
        report.first_response.p90,
    ) == (0, None, None)
    assert len(report.weeks) == 1


def test_percentiles_interpolate_between_ranks_like_percentile_cont() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([10.0, 20.0, 30.0, 40.0, 50.0], 0.9) == pytest.approx(46.0)


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("2026-02-30", "2026-03-01", "--from '2026-02-30' is not a date"),
        ("2026-03-01", "March", "--to 'March' is not a date"),
        ("2026-03-02", "2026-03-01", "starts (2026-03-02) after it ends (2026-03-01)"),
    ],
)
def test_a_bad_period_is_refused_with_a_reason(first: str, last: str, message: str) -> None:
    with pytest.raises(InvalidPeriod, match=message.replace("(", r"\(").replace(")", r"\)")):
        Period.parse(first, last)


def test_a_period_is_whole_days_with_the_last_included() -> None:
    period = Period.parse("2026-01-05", "2026-01-05")
    assert period.end - period.start == 86_400
    weeks = Period.of(FIRST, LAST).weeks
    assert [week_start(w) for w in weeks] == [T0, T0 + 7 * 86_400]
    # A period that does not start on a Monday still shows the week it starts in.
    assert week_start(Period.parse("2026-01-07", "2026-01-07").weeks[0]) == T0
