"""The transparency report as JSON, CSV or a standalone HTML page with inline SVG charts."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from markupsafe import Markup

from .charts import bar_chart
from .pages import render
from .transparency import TransparencyReport

FORMATS = ("json", "csv", "html")


def to_json(report: TransparencyReport) -> str:
    return json.dumps(report.to_json(), indent=2)


def to_csv(report: TransparencyReport) -> str:
    """One row per figure: `figure,dimension,value` (dimension `key=value;...` or empty)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["figure", "dimension", "value"])
    writer.writerow(["period_from", "", report.period.first.isoformat()])
    writer.writerow(["period_to", "", report.period.last.isoformat()])
    writer.writerow(["child_endangerment_reports", "", report.reports_received])
    for band, count in report.reports_by_reporter_band.items():
        writer.writerow(["child_endangerment_reports", f"reporter_band={band}", count])
    writer.writerow(["grooming_alerts", "", report.alerts_raised])
    writer.writerow(["accounts_alerted", "", report.accounts_alerted])
    for signal, count in report.alerts_by_signal.items():
        writer.writerow(["grooming_alerts", f"signal={signal}", count])
    writer.writerow(["stranger_contacts_blocked", "", report.contacts_blocked_total])
    for (action, band), count in sorted(report.contacts_blocked.items()):
        writer.writerow(["stranger_contacts_blocked", f"kind={action};target_band={band}", count])
    # Estimated where sampled rows are behind it: `decisions_allowed_sampled_rows` above 0.
    allowed = report.allowed
    writer.writerow(["decisions_allowed", "", allowed.total])
    writer.writerow(["decisions_allowed_sampled_rows", "", sum(allowed.sampled_rows.values())])
    for kind, count in sorted(allowed.by_kind.items()):
        writer.writerow(["decisions_allowed", f"kind={kind}", count])
        writer.writerow(["decisions_allowed_sampled_rows", f"kind={kind}", allowed.sampled_rows.get(kind, 0)])
    writer.writerow(["accounts_restricted", "", report.accounts_restricted])
    writer.writerow(["accounts_restricted", "by=system", report.accounts_restricted_automatically])
    writer.writerow(
        ["accounts_restricted", "by=moderators", report.accounts_restricted_by_moderators]
    )
    for name, durations in (
        ("time_to_first_response_seconds", report.first_response),
        ("time_to_resolution_seconds", report.resolution),
    ):
        writer.writerow([name, "count", durations.count])
        writer.writerow([name, "median", _blank(durations.median)])
        writer.writerow([name, "p90", _blank(durations.p90)])
    writer.writerow(["due_times", "decided", report.due.decided])
    writer.writerow(["due_times", "within_due", report.due.within_due])
    writer.writerow(["due_times", "share_within_due", _blank(report.due.share_within_due)])
    writer.writerow(["due_times", "overdue_at_end", report.due.overdue_at_end])
    writer.writerow(["actions_taken", "", report.actions_taken])
    for action, count in report.actions_by_type.items():
        writer.writerow(["actions_taken", f"type={action}", count])
    writer.writerow(["items_open_at_end", "", report.items_open])
    writer.writerow(["items_open_at_end", "kind=alert", report.open_alerts])
    writer.writerow(["items_open_at_end", "kind=report", report.open_reports])
    for week in report.weeks:
        for series, value in week.to_json().items():
            if series != "week_start":
                writer.writerow(
                    [f"weekly_{series}", f"week={week.start.isoformat()}", _blank(value)]
                )
    return out.getvalue()


def _blank(value: Any) -> Any:
    return "" if value is None else value


def charts(report: TransparencyReport) -> list[Markup]:
    labels = [w.start for w in report.weeks]
    return [
        bar_chart(
            "Child-endangerment reports per week", labels, [w.reports for w in report.weeks],
            y_label="reports",
        ),
        bar_chart(
            "Grooming alerts per week", labels, [w.alerts for w in report.weeks], y_label="alerts"
        ),
        bar_chart(
            "Stranger contacts blocked per week", labels, [w.contacts_blocked for w in report.weeks],
            y_label="contacts blocked",
        ),
        bar_chart(
            "Moderation actions per week", labels, [w.actions for w in report.weeks],
            y_label="actions",
        ),
        bar_chart(
            "Median time to first response, by week",
            labels,
            [w.median_first_response for w in report.weeks],
            unit="duration",
            y_label="median time",
        ),
    ]


def to_html(report: TransparencyReport, **page: Any) -> str:
    """A page that stands alone (no links, no forms) unless the app passes its own `page` bits."""
    context = {"nav": False, "base_path": "", "period_form": False, "title": "Transparency report"}
    context.update(page)
    return render("transparency.html", report=report, charts=charts(report), **context)


def render_report(report: TransparencyReport, fmt: str) -> str:
    if fmt == "json":
        return to_json(report)
    if fmt == "csv":
        return to_csv(report)
    if fmt == "html":
        return to_html(report)
    raise ValueError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
