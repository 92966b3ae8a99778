"""`safe-accounts report transparency` and `purge`, run as a user runs them."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.clock import SYSTEM_CLOCK

from .records import EXPECTED, T0, build

PERIOD = ["--from", "2026-01-05", "--to", "2026-01-18"]


def _figures(document: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v for k, v in document.items() if k not in {"generated_at", "folded_before", "notes"}
    }


async def test_the_json_report_carries_the_hand_worked_figures(
    cli, engine: AsyncEngine, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    await build(engine)
    ran = await asyncio.to_thread(
        cli, "report", "transparency", *PERIOD, "--database-url", database_url
    )
    assert ran.code == 0, ran.err
    document = json.loads(ran.out)
    assert document["child_endangerment_reports"]["received"] == EXPECTED["reports_received"]
    assert document["stranger_contacts_blocked"]["total"] == 4
    assert document["time_to_resolution"] == {
        "count": 4,
        "median_seconds": 2700.0,
        "p90_seconds": 243000.0,
    }
    assert document["items_open_at_end"] == {"total": 4, "alerts": 1, "reports": 3}
    assert [w["week_start"] for w in document["weekly"]] == ["2026-01-05", "2026-01-12"]


async def test_the_csv_report_has_one_row_per_figure(
    cli, engine: AsyncEngine, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    await build(engine)
    ran = await asyncio.to_thread(
        cli, "report", "transparency", *PERIOD, "--format", "csv", "--database-url", database_url
    )
    assert ran.code == 0, ran.err
    rows = {(r["figure"], r["dimension"]): r["value"] for r in csv.DictReader(io.StringIO(ran.out))}
    assert rows[("child_endangerment_reports", "")] == "3"
    assert rows[("stranger_contacts_blocked", "kind=direct_message;target_band=13_15")] == "2"
    assert rows[("time_to_first_response_seconds", "median")] == "1200.0"
    assert rows[("actions_taken", "type=dismiss")] == "2"
    assert rows[("weekly_contacts_blocked", "week=2026-01-05")] == "3"


async def test_the_html_report_stands_alone_with_inline_svg_charts(
    cli,
    engine: AsyncEngine,
    database_url: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    await build(engine)
    out = tmp_path / "report.html"
    ran = await asyncio.to_thread(
        cli,
        "report",
        "transparency",
        *PERIOD,
        "--format",
        "html",
        "--output",
        str(out),
        "--database-url",
        database_url,
    )
    assert ran.code == 0, ran.err
    html = out.read_text()
    assert html.count("<svg") == 5
    assert "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert 'id="reports-received">3<' in html


async def test_purge_keeps_the_reports_figures(  # type: ignore[no-untyped-def]
    cli, engine: AsyncEngine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The command runs on the system clock: stop it 45 days after the period began.
    monkeypatch.setattr(SYSTEM_CLOCK, "now", lambda: T0 + 45 * 86_400)
    await build(engine)
    before = await asyncio.to_thread(
        cli, "report", "transparency", *PERIOD, "--database-url", database_url
    )
    purged = await asyncio.to_thread(
        cli, "purge", "--older-than", "30", "--json", "--database-url", database_url
    )
    assert purged.code == 0, purged.err
    # 45 - 30 = 15 days after T0, rounded down to a Monday: the day after the period. Every
    # decision row before it goes; the one after the period stays.
    assert json.loads(purged.out) == {
        "purged_before": "2026-01-19",
        "decisions_deleted": 7,
        "weeks_folded": 3,
        "reports_erased": 1,
        "evidence_cleared": 3,
        "decisions_held": 0,
    }
    after = await asyncio.to_thread(
        cli, "report", "transparency", *PERIOD, "--database-url", database_url
    )
    assert _figures(json.loads(after.out)) == _figures(json.loads(before.out))


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["purge", "--older-than", "-1"], 2, "must be 0 or more"),
        (["purge", "--older-than", "soon"], 2, "'soon' is not a valid integer"),
        (
            ["report", "transparency", "--from", "2026-01-32", "--to", "2026-02-01"],
            1,
            "is not a date",
        ),
        (
            ["report", "transparency", "--from", "2026-02-02", "--to", "2026-02-01"],
            1,
            "after it ends",
        ),
        (
            [
                "report",
                "transparency",
                "--from",
                "2026-01-01",
                "--to",
                "2026-02-01",
                "--format",
                "pdf",
            ],
            2,
            "'pdf' is not one of",
        ),
    ],
)
def test_bad_input_exits_non_zero_with_a_message(
    cli, tmp_path: Path, args: list[str], code: int, message: str
) -> None:  # type: ignore[no-untyped-def]
    ran = cli(*args, "--database-url", f"sqlite:///{tmp_path / 'x.db'}")
    assert ran.code == code
    assert message in ran.err
    assert "Traceback" not in ran.err


def test_an_unmigrated_database_names_the_command_that_fixes_it(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ran = cli(
        "report", "transparency", *PERIOD, "--database-url", f"sqlite:///{tmp_path / 'empty.db'}"
    )
    assert ran.code == 1
    assert "safe-accounts db upgrade" in ran.err
