"""`safe-accounts alerts list | show`: the queue from a terminal, never a traceback."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import replace

from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.alerts import AlertService, AlertStatus
from safe_accounts.cli import cli
from safe_accounts.signals.scoring import ScoreContribution

from .crossings import AT, crossing


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


async def test_list_show_and_filter(engine: AsyncEngine, database_url: str) -> None:
    service = AlertService(engine, policy_version="baseline@2")
    first = await service.raise_alert(crossing(subject="adult-1"))
    second = await service.raise_alert(crossing(subject="adult-2"))
    assert first and second
    await service.set_status(second.id, AlertStatus.RESOLVED)

    code, out = await asyncio.to_thread(invoke, "alerts", "list", "--database-url", database_url)
    assert code == 0, out
    assert first.id in out and second.id in out and "rejected-by-minors" in out

    code, out = await asyncio.to_thread(
        invoke, "alerts", "list", "--status", "open", "--json", "--database-url", database_url
    )
    assert code == 0, out
    assert [a["id"] for a in json.loads(out)] == [first.id]

    code, out = await asyncio.to_thread(invoke, "alerts", "show", first.id, "--database-url", database_url)
    assert code == 0, out
    assert "contact requests rejected by minors" in out
    assert "count=5, threshold=5" in out
    assert out.count("contact_rejected") == 5 and "band=13_15" in out

    code, out = await asyncio.to_thread(
        invoke, "alerts", "show", first.id, "--json", "--database-url", database_url
    )
    assert json.loads(out)["evidence"][0]["other"] == "child-0"


async def test_a_scores_alert_shows_each_parts_contribution(engine: AsyncEngine, database_url: str) -> None:
    parts = (ScoreContribution("outside-circle", 3, 0.2, AT), ScoreContribution("scattered", 1, 0.5, AT))
    score = replace(crossing(signal="risk"), kind="score", counts={"score": 1.1, "threshold": 1.0}, evidence=parts)
    raised = await AlertService(engine).raise_alert(score)
    assert raised is not None
    code, out = await asyncio.to_thread(invoke, "alerts", "show", raised.id, "--database-url", database_url)
    assert code == 0, out
    assert "score=1.1, threshold=1.0" in out
    assert "score part outside-circle: 3 x 0.2 = 0.6" in out and "score part scattered: 1 x 0.5 = 0.5" in out


async def test_an_unknown_id_is_a_message_not_a_traceback(engine: AsyncEngine, database_url: str) -> None:
    command = [sys.executable, "-m", "safe_accounts.cli", "alerts", "show", "nope", "--database-url", database_url]
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "error: there is no alert or report 'nope'" in done.stderr
    assert "Traceback" not in done.stderr
