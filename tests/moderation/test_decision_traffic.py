"""The decision log as the middleware writes it, read by everything that reads it.

Real traffic through the middleware - stranger DMs to children (refused) and search pages
with children filtered out - and every figure computed from the log: the transparency
report's blocked contacts (by kind, band and week), the accounts filtered and the distinct
children kept out of a page, an evidence bundle, and the same after a purge that keeps a
held case's rows. A page is one row per rule whatever its length, and names the accounts
it filtered: the figures come out as the traffic made them.

The same traffic runs under three policies: without an `allow` rule, with one that records
every adult's view of an adult's profile, and with that rule logging a tenth of them
(`log: {sample: 0.1}`). Every figure the report and the evidence count comes out the same
under all three; only the allowed decisions differ, exact or estimated and labelled so.
Decision ids are counted out (not random) so the sampled run keeps the same views every time.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock
from safe_accounts.decisions.table import decision_log
from safe_accounts.moderation import purge
from safe_accounts.moderation.casework import Casework
from safe_accounts.moderation.evidence import ExportKey, export_case, verify
from safe_accounts.moderation.tables import cases, held_decisions
from safe_accounts.moderation.transparency import Period, transparency_report
from safe_accounts.pipeline import records
from tests.middleware.conftest import POLICY, HostApp, drop_host_tables, seed

from .conftest import raise_alert

D = 86_400
START = 1_799_625_600  # Monday 2027-01-11 00:00 UTC
KEY = ExportKey(b"platform-export-key-of-32-bytes!")
CHILDREN = {"kid": "13_15", "young": "under_13", "teen": "16_17", "kid-friend": "13_15"}
PAGES = 5
VIEWS = 200  # the adult's views of another adult's profile

ALLOW_RULE = """\
version: 1
name: traffic
extends: ./base.yaml
rules:
  - id: adults-viewing-adults
    action: profile_view
    when: {actor_band: [adult], target_band: [adult]}
    then: allow
    reason: An adult's profile viewed by an adult, recorded.
"""
# The policy's allowed-decision logging -> the share of the views it logs (None: no rule).
LOGGING = {"no allow rule": None, "every allowed view logged": 1.0, "a tenth of them": 0.1}


@dataclass(frozen=True)
class Traffic:
    clock: FrozenClock
    rate: float | None  # the allow rule's sampling rate (1: every view; None: no allow rule)


@pytest.fixture(params=list(LOGGING))
async def traffic(
    request: pytest.FixtureRequest, engine: AsyncEngine, database_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Traffic]:
    """Two days of one adult's traffic: refused DMs, allowed ones, search pages, profile views."""
    rate = LOGGING[request.param]
    numbers = itertools.count(1)
    monkeypatch.setattr(records, "new_decision_id", lambda: f"{next(numbers):024x}")
    clock = FrozenClock(START + 9 * 3600)
    await seed(engine, clock)
    (tmp_path / "base.yaml").write_text(POLICY)
    policy = tmp_path / "policy.yaml"
    if rate is None:
        policy.write_text(POLICY)
    else:
        policy.write_text(ALLOW_RULE + ("" if rate == 1 else f"    log: {{sample: {rate}}}\n"))
    middleware = SafeAccountsMiddleware(
        HostApp().build(), policy=policy, database_url=database_url, clock=clock, signals=None
    )
    transport = httpx.ASGITransport(app=middleware)
    headers = {"x-account-id": "adult"}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for child in ("kid", "young", "teen"):  # Monday: three refused
            response = await client.post("/api/v1/messages", json={"to": child}, headers=headers)
            assert response.status_code == 403
        response = await client.post("/api/v1/messages", json={"to": "other-adult"}, headers=headers)
        assert response.status_code == 201  # allowed: no rule applies, no row
        for _ in range(PAGES):
            clock.advance(60)
            page = (await client.get("/api/search", headers=headers)).json()
            assert not {r["id"] for r in page["results"]} & set(CHILDREN)
        for _ in range(VIEWS):
            response = await client.get("/api/accounts/other-adult", headers=headers)
            assert response.status_code == 200 and response.json()["location"] == "Leeds"
        clock.advance(7 * D)  # the next Monday: one more refused
        response = await client.post("/api/v1/messages", json={"to": "kid"}, headers=headers)
        assert response.status_code == 403
    await middleware.close()
    await drop_host_tables(engine)
    yield Traffic(clock, rate)


PERIOD = Period.of(FrozenClock(START).today(), FrozenClock(START).today() + timedelta(days=13))


async def _rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(decision_log.select().order_by(decision_log.c.at, decision_log.c.id))
        ).mappings().all()
    return [dict(r) for r in rows]


def _figures(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in {"generated_at", "folded_before", "notes"}}


def _filtered(rows: list[dict[str, Any]]) -> tuple[int, set[str]]:
    """Accounts filtered (as the simulation's report sums them) and distinct ones."""
    lists = [r for r in rows if r["outcome"] == "filter"]
    return sum(r["affected"] for r in lists), {i for r in lists for i, _band in r["targets"]}


def _views(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["rule"] == "adults-viewing-adults"]


async def test_a_page_is_one_row_naming_the_children_it_kept_out(engine: AsyncEngine, traffic: Traffic) -> None:
    rows = await _rows(engine)
    refused = [(r["target_id"], r["target_band"], r["targets"]) for r in rows if r["outcome"] == "deny"]
    assert refused == [
        ("kid", "13_15", None), ("young", "under_13", None), ("teen", "16_17", None), ("kid", "13_15", None)
    ]
    pages = [r for r in rows if r["outcome"] == "filter"]
    assert len(pages) == PAGES  # one row per page (one rule applied), not one per child
    for row in pages:
        assert row["rule"] == "minors-out-of-stranger-discovery" and row["affected"] == len(CHILDREN)
        assert dict(row["targets"]) == CHILDREN
        assert (row["target_id"], row["target_band"]) == tuple(row["targets"][0])
    assert _filtered(rows) == (PAGES * len(CHILDREN), set(CHILDREN))


async def test_the_transparency_report_counts_the_refusals_the_traffic_made(
    engine: AsyncEngine, traffic: Traffic
) -> None:
    report = (await transparency_report(engine, PERIOD, clock=traffic.clock)).to_json()
    assert report["stranger_contacts_blocked"] == {
        "total": 4,
        "by_kind_and_band": [
            {"kind": "direct_message", "target_band": "13_15", "count": 2},
            {"kind": "direct_message", "target_band": "16_17", "count": 1},
            {"kind": "direct_message", "target_band": "under_13", "count": 1},
        ],
    }  # the filtered pages are not blocked contacts, however many children they listed
    assert [w["contacts_blocked"] for w in report["weekly"]] == [3, 1]
    # Nothing else happened in the period, under any of the three policies.
    assert report["child_endangerment_reports"]["received"] == report["grooming_alerts"]["raised"] == 0
    assert report["actions_taken"]["total"] == report["accounts_restricted"]["total"] == 0


async def test_the_views_an_allow_rule_recorded_are_counted_exact_or_estimated_and_labelled(
    engine: AsyncEngine, traffic: Traffic
) -> None:
    rows = _views(await _rows(engine))
    allowed = (await transparency_report(engine, PERIOD, clock=traffic.clock)).to_json()["decisions_allowed"]
    if traffic.rate is None:
        assert rows == [] and allowed == {"total": 0, "estimated": False, "sampled_rows": 0, "by_kind": []}
    elif traffic.rate == 1:
        assert len(rows) == VIEWS and {r["sample_rate"] for r in rows} == {None}
        assert allowed == {
            "total": VIEWS, "estimated": False, "sampled_rows": 0,
            "by_kind": [{"kind": "profile_view", "count": VIEWS, "estimated": False, "sampled_rows": 0}],
        }
    else:
        assert {r["sample_rate"] for r in rows} == {traffic.rate}
        spread = 4 * math.sqrt(VIEWS * traffic.rate * (1 - traffic.rate))
        assert 0 < len(rows) < VIEWS and abs(len(rows) - VIEWS * traffic.rate) <= spread
        estimate = round(len(rows) / traffic.rate)
        assert allowed == {
            "total": estimate, "estimated": True, "sampled_rows": len(rows),
            "by_kind": [{"kind": "profile_view", "count": estimate, "estimated": True, "sampled_rows": len(rows)}],
        }
        assert abs(estimate - VIEWS) <= spread / traffic.rate


async def test_a_purge_with_a_held_case_keeps_every_figure_and_the_case_keeps_every_row(
    engine: AsyncEngine, traffic: Traffic
) -> None:
    clock = traffic.clock
    before_rows = await _rows(engine)
    views = len(_views(before_rows))
    await raise_alert(engine, "a1", "adult", START + 10 * D)
    work = Casework(engine, clock=clock)
    await work.file()
    async with engine.connect() as conn:
        case_id = str(await conn.scalar(select(cases.c.id)))
    bundle = await export_case(engine, case_id, key=KEY, by="mod-1", clock=clock)
    # Every refusal and every filtered page is in the bundle, whatever the policy logs of the
    # views; each view logged is there with the rate it was logged at.
    assert bundle["counts"]["decisions"] == len(before_rows) == 4 + PAGES + views
    assert {k: bundle["counts"][k] for k in ("alerts", "reports", "actions", "decisions_left_out")} == {
        "alerts": 1, "reports": 0, "actions": 0, "decisions_left_out": 0
    }
    assert sorted(
        (d["outcome"], d["target_id"], d["sample_rate"]) for d in bundle["decisions"] if d["outcome"] != "allow"
    ) == sorted(
        [("deny", "kid", None)] * 2 + [("deny", "young", None), ("deny", "teen", None)]
        + [("filter", "kid", None)] * PAGES
    )
    logged_at = {d["sample_rate"] for d in bundle["decisions"] if d["outcome"] == "allow"}
    assert logged_at == (set() if not views else {None} if traffic.rate == 1 else {traffic.rate})
    await work.hold(case_id, by="mod-1", note="police ref 42")
    before = (await transparency_report(engine, PERIOD, clock=clock)).to_json()

    clock.advance(60 * D)
    done = await purge(engine, older_than_days=30, clock=clock)
    assert (done.decisions_deleted, done.decisions_held) == (len(before_rows), len(before_rows))
    assert await _rows(engine) == []
    after = (await transparency_report(engine, PERIOD, clock=clock)).to_json()
    assert _figures(after) == _figures(before)  # the views' estimate too, and its label
    async with engine.connect() as conn:
        held = (
            await conn.execute(select(held_decisions).order_by(held_decisions.c.at, held_decisions.c.id))
        ).mappings().all()
    # The held copy is the log's rows, accounts filtered and sampling rates included.
    assert [{k: v for k, v in r.items() if k != "case_id"} for r in held] == before_rows
    assert _filtered([dict(r) for r in held]) == _filtered(before_rows)
    kept = await export_case(engine, case_id, key=KEY, by="mod-1", clock=clock)
    assert [d["id"] for d in kept["decisions"]] == [d["id"] for d in bundle["decisions"]]
    assert [d.get("targets") for d in kept["decisions"]] == [r["targets"] for r in before_rows]
    assert verify(kept, KEY) == []
