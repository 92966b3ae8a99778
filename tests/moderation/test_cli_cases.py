"""`safe-accounts moderate ...` and `report transparency` without dates, run as a user runs
them: what they print, what they record, their exit codes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.moderation.tables import cases

from .conftest import DISPLAY_POLICY, file_report, host_people, raise_alert
from .records import T0


async def test_a_moderators_day_from_the_command_line(
    cli: Callable[..., Any], engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(DISPLAY_POLICY)
    db = ["--database-url", database_url]
    await raise_alert(engine, "a1", "adult-x", T0)
    await file_report(engine, "kid", "13_15", "adult-x", T0 + 60, text="he asked where I live")

    async def run(*args: str) -> Any:
        return await asyncio.to_thread(cli, *args)

    async with host_people(engine):
        listed = await run("moderate", "cases", "--policy", str(policy), *db)
        assert listed.code == 0, listed.err
        # T0 is long past: the case was due a day after its alert.
        assert "Alex Turner (@alex)  1 alert(s), 1 report(s)  OVERDUE since 2026-01-06" in listed.out
        async with engine.connect() as conn:
            case_id = str(await conn.scalar(select(cases.c.id)))
        shown = await run("moderate", "show", case_id, "--policy", str(policy), *db)
        assert '"he asked where I live"' in shown.out and "by Kim Lee (@kim) (13_15)" in shown.out

    claimed = await run("moderate", "claim", case_id, "--by", "mod-1", *db)
    assert (claimed.code, claimed.out.strip()) == (0, f"case {case_id} claimed by mod-1")
    refused = await run("moderate", "act", case_id, "--action", "warn", "--by", "mod-2", *db)
    assert refused.code == 1 and "claimed by mod-1: take it over" in refused.err
    held = await run("moderate", "hold", case_id, "--by", "mod-1", "--note", "police ref 42", *db)
    assert held.code == 0
    acted = await run(
        "moderate", "act", case_id, "--action", "suspend", "--by", "mod-1", "--json", *db
    )
    assert acted.code == 0, acted.err
    record = json.loads(acted.out)
    assert (record["case_id"], record["effect"]) == (case_id, "recorded only: no host hook is configured")
    detail = json.loads((await run("moderate", "show", case_id, "--json", *db)).out)
    assert (detail["status"], detail["outcome"], detail["legal_hold"]["note"]) == (
        "resolved",
        "suspend",
        "police ref 42",
    )
    assert (await run("moderate", "cases", *db)).out.strip() == "no open cases"
    unknown = await run("moderate", "claim", "missing", "--by", "mod-1", *db)
    assert unknown.code == 1 and "there is no case 'missing'" in unknown.err


async def test_the_transparency_report_defaults_to_the_last_twelve_weeks(
    cli: Callable[..., Any], engine: AsyncEngine, database_url: str
) -> None:
    done = await asyncio.to_thread(
        cli, "report", "transparency", "--to", "2026-01-18", "--database-url", database_url
    )
    assert done.code == 0, done.err
    assert json.loads(done.out)["period"] == {"from": "2025-10-27", "to": "2026-01-18"}
    today = await asyncio.to_thread(cli, "report", "transparency", "--database-url", database_url)
    assert today.code == 0, today.err
    period = json.loads(today.out)["period"]
    assert period["to"] > "2026-01-01" and period["from"] < period["to"]
