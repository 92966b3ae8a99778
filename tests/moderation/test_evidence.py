"""The evidence bundle: one case, signed, for a referral; checked by anyone with the key;
never message text. Legal hold keeps its records through a purge."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.alerts.tables import alerts
from safe_accounts.clock import FrozenClock
from safe_accounts.decisions.table import decision_log
from safe_accounts.errors import ConfigurationError
from safe_accounts.moderation import purge
from safe_accounts.moderation.casework import Casework
from safe_accounts.moderation.evidence import FORMAT, ExportKey, InvalidBundle, export_case, verify
from safe_accounts.moderation.tables import cases, reports

from .conftest import file_report, raise_alert
from .records import T0, decision

KEY = ExportKey(b"platform-export-key-of-32-bytes!")
D = 86_400


async def _case(engine: AsyncEngine, clock: FrozenClock) -> tuple[Casework, str, str]:
    await raise_alert(engine, "a1", "adult-x", T0)
    report_id = await file_report(engine, "kid", "13_15", "adult-x", T0 + 60, text="he asked for photos")
    refused_dm = {**decision("d1", T0 - 30, "direct_message", "13_15"), "actor_id": "adult-x"}
    someone_else = {**decision("d2", T0 - 20, "direct_message", "13_15"), "actor_id": "adult-y"}
    async with engine.begin() as conn:
        await conn.execute(decision_log.insert(), [refused_dm, someone_else])
    work = Casework(engine, clock=clock)
    await work.file()
    async with engine.connect() as conn:
        case_id = str(await conn.scalar(select(cases.c.id)))
    return work, case_id, report_id


async def test_a_bundle_holds_the_cases_records_with_hashes_and_verifies(
    engine: AsyncEngine, clock: FrozenClock
) -> None:
    work, case_id, report_id = await _case(engine, clock)
    await work.act(case_id, "refer_law_enforcement", by="mod-1", note="CEOP referral")
    bundle = await export_case(engine, case_id, key=KEY, by="mod-1", clock=clock)
    assert bundle["format"] == FORMAT and bundle["case"]["id"] == case_id
    assert bundle["case"]["outcome"] == "refer_law_enforcement"
    assert [a["id"] for a in bundle["alerts"]] == ["a1"]
    assert [(r["id"], r["text"], r["reporter_band"]) for r in bundle["reports"]] == [
        (report_id, "he asked for photos", "13_15")
    ]
    assert [d["id"] for d in bundle["decisions"]] == ["d1"]  # the account's own, no one else's
    assert {a["item_id"] for a in bundle["actions"]} == {"a1", report_id}
    assert bundle["reports"][0]["at_utc"] == "2026-01-05T00:01:00.000Z"
    assert bundle["integrity"]["signature"]["key_id"] == KEY.key_id
    assert all(len(r["sha256"]) == 64 for kind in ("alerts", "reports", "decisions") for r in bundle[kind])
    assert verify(json.loads(json.dumps(bundle)), KEY) == []


async def test_no_field_of_a_bundle_can_hold_message_text(engine: AsyncEngine, clock: FrozenClock) -> None:
    _, case_id, _ = await _case(engine, clock)
    bundle = await export_case(engine, case_id, key=KEY, by="mod-1", clock=clock)
    fields = {
        key for kind in ("alerts", "decisions", "actions", "restrictions", "events") for r in bundle[kind] for key in r
    }
    # Decisions and alerts are ids, bands, rules and times; the only words are the reporter's
    # own (`text` of a report) and the moderators' notes.
    assert not fields & {"text", "message", "body", "content"}
    assert set(bundle["reports"][0]) - {"text"} >= {"reporter_id", "reported_id", "at", "sha256"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda b: b["reports"][0].update(text="changed"), "reports[0]"),
        (lambda b: b["case"].update(outcome="dismiss"), "does not match its digest"),
        (lambda b: b["decisions"].pop(), "does not match its digest"),
    ],
)
async def test_a_changed_bundle_does_not_verify(
    engine: AsyncEngine, clock: FrozenClock, change: Callable[[dict[str, Any]], Any], expected: str
) -> None:
    _, case_id, _ = await _case(engine, clock)
    bundle = await export_case(engine, case_id, key=KEY, by="mod-1", clock=clock)
    changed = copy.deepcopy(bundle)
    change(changed)
    assert any(expected in p for p in verify(changed, KEY))
    assert any("signed with key" in p for p in verify(bundle, ExportKey(b"another-key-" * 3)))
    with pytest.raises(InvalidBundle):
        verify({"format": "something else"}, KEY)


def test_the_export_key_comes_from_the_environment_and_is_long_enough() -> None:
    with pytest.raises(ConfigurationError, match="SAFE_ACCOUNTS_EXPORT_KEY, which is not set"):
        ExportKey.from_env(environ={})
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        ExportKey.from_env(environ={"SAFE_ACCOUNTS_EXPORT_KEY": "short"})


async def test_purge_keeps_a_held_cases_evidence_and_erases_it_once_released(
    engine: AsyncEngine, clock: FrozenClock
) -> None:
    work, case_id, report_id = await _case(engine, clock)
    await work.act(case_id, "suspend", by="mod-1")
    await work.hold(case_id, by="mod-1", note="police ref 42")
    clock.advance(200 * D)
    kept = await purge(engine, older_than_days=30, clock=clock)
    assert (kept.reports_erased, kept.evidence_cleared, kept.decisions_held) == (0, 0, 1)
    async with engine.connect() as conn:
        report = (await conn.execute(select(reports).where(reports.c.id == report_id))).mappings().one()
        evidence = await conn.scalar(select(alerts.c.evidence).where(alerts.c.id == "a1"))
        in_log = (await conn.execute(select(decision_log.c.id))).scalars().all()
    assert (report["reporter_id"], report["reported_id"], report["text"]) == (
        "kid",
        "adult-x",
        "he asked for photos",
    )
    assert evidence  # the alert's timeline is still there
    assert in_log == []  # the log itself was purged as always (its weekly totals kept) ...
    bundle = await export_case(engine, case_id, key=KEY, by="mod-1", clock=clock)
    assert [d["id"] for d in bundle["decisions"]] == ["d1"]  # ... the held copy is in the bundle

    await work.release_hold(case_id, by="mod-1")
    erased = await purge(engine, older_than_days=30, clock=clock)
    assert (erased.reports_erased, erased.evidence_cleared) == (1, 1)
    async with engine.connect() as conn:
        report = (await conn.execute(select(reports).where(reports.c.id == report_id))).mappings().one()
    assert (report["reporter_id"], report["reported_id"], report["text"]) == (None, None, None)


async def test_the_command_line_exports_and_verifies_a_bundle(
    engine: AsyncEngine,
    clock: FrozenClock,
    database_url: str,
    cli: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, case_id, _ = await _case(engine, clock)
    out = tmp_path / "case.json"
    monkeypatch.delenv("SAFE_ACCOUNTS_EXPORT_KEY", raising=False)
    missing = await asyncio.to_thread(
        cli, "moderate", "export", case_id, "--by", "mod-1", "--database-url", database_url
    )
    assert missing.code == 1 and "SAFE_ACCOUNTS_EXPORT_KEY, which is not set" in missing.err
    monkeypatch.setenv("SAFE_ACCOUNTS_EXPORT_KEY", "platform-export-key-of-32-bytes!")
    done = await asyncio.to_thread(
        cli, "moderate", "export", case_id, "--by", "mod-1", "--output", str(out), "--database-url", database_url
    )
    assert done.code == 0, done.err
    assert f"wrote case {case_id}'s evidence to {out}" in done.err
    checked = await asyncio.to_thread(cli, "moderate", "verify", str(out))
    assert checked.code == 0 and "intact" in checked.out
    bundle = json.loads(out.read_text())
    bundle["reports"][0]["text"] = "changed"
    out.write_text(json.dumps(bundle))
    tampered = await asyncio.to_thread(cli, "moderate", "verify", str(out))
    assert tampered.code == 1 and "does not match its sha256" in tampered.err
