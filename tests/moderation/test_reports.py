"""The report log: `record` queues (no I/O), a background task writes; nothing is lost on close."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts import AgeBand, SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock
from safe_accounts.moderation import ModerationQueue, Period, ReportLog, transparency_report
from safe_accounts.moderation.cases import open_cases
from safe_accounts.moderation.tables import reports
from safe_accounts.moderation.weeks import as_date
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts

from ..middleware.conftest import POLICY, HostApp, drop_host_tables, seed
from .records import T0


async def _rows(engine: AsyncEngine) -> list[dict]:  # type: ignore[type-arg]
    async with engine.connect() as conn:
        return [
            dict(r) for r in (await conn.execute(select(reports).order_by(reports.c.at))).mappings()
        ]


async def test_record_only_queues_and_flush_writes(engine: AsyncEngine) -> None:
    log = ReportLog(engine)
    report_id = log.record(
        reporter_id="kid",
        reporter_band=AgeBand.B13_15,
        reported_id="adult-x",
        reported_band=AgeBand.ADULT,
        at=T0,
        decision_id="d1",
    )
    assert await _rows(engine) == []  # nothing written on the request path
    assert log.health()["queued"] == 1
    assert await log.flush() == 1
    assert await _rows(engine) == [
        {
            "id": report_id,
            "at": T0,
            "reporter_id": "kid",
            "reporter_band": "13_15",
            "reported_id": "adult-x",
            "reported_band": "adult",
            "decision_id": "d1",
            "status": "open",
            "text": None,
        }
    ]
    await log.close()


async def test_the_background_writer_writes_and_close_writes_the_rest(engine: AsyncEngine) -> None:
    log = ReportLog(engine, batch=2, interval=3600)
    await log.start()
    for i in range(5):
        log.record(
            reporter_id=f"kid-{i}",
            reporter_band="13_15",
            reported_id="adult-x",
            reported_band="adult",
            at=T0 + i,
        )
    await log.close()
    assert [r["reporter_id"] for r in await _rows(engine)] == [f"kid-{i}" for i in range(5)]
    assert log.health() == {"queued": 0, "written": 5, "dropped": 0, "rejected": 0, "last_error": None}


async def test_a_full_queue_drops_the_oldest_and_counts_them(engine: AsyncEngine) -> None:
    log = ReportLog(engine, limit=2)
    for i in range(3):
        log.record(
            reporter_id=f"kid-{i}",
            reporter_band="13_15",
            reported_id="adult-x",
            reported_band="adult",
            at=T0,
        )
    assert log.dropped == 1
    await log.close()
    assert sorted(r["reporter_id"] for r in await _rows(engine)) == ["kid-1", "kid-2"]


async def test_reports_enter_the_queue_beside_alerts(engine: AsyncEngine) -> None:
    log = ReportLog(engine)
    report_id = log.record(
        reporter_id="kid",
        reporter_band="13_15",
        reported_id="adult-x",
        reported_band="adult",
        at=T0,
    )
    await log.close()
    assert [(i.kind.value, i.id) for i in await ModerationQueue(engine).open_items()] == [
        ("report", report_id)
    ]


async def test_the_middleware_runtime_carries_a_started_report_log(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    clock = FrozenClock(T0)
    await seed(engine, clock)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    middleware = SafeAccountsMiddleware(
        HostApp().build(),
        policy=policy,
        database_url=database_url,
        clock=clock,
        signals=attach_grooming_alerts(),
    )
    runtime = await middleware.start()
    try:
        log = runtime.reports
        assert isinstance(log, ReportLog)
        log.record(
            reporter_id="kid",
            reporter_band="13_15",
            reported_id="adult",
            reported_band="adult",
            at=T0,
        )
        assert runtime.health()["reports"]["queued"] == 1
    finally:
        await middleware.close()  # closing writes what is queued
        await drop_host_tables(engine)
    assert [r["reporter_id"] for r in await _rows(engine)] == ["kid"]


async def test_a_childs_report_over_the_middleware_reaches_the_queue_and_the_report(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    clock = FrozenClock(T0)
    await seed(engine, clock)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    middleware = SafeAccountsMiddleware(
        HostApp().build(),
        policy=policy,
        database_url=database_url,
        clock=clock,
        signals=attach_grooming_alerts(),
    )
    await middleware.start()
    try:
        transport = httpx.ASGITransport(app=middleware)
        async with httpx.AsyncClient(transport=transport, base_url="http://host") as client:
            reported = await client.post(
                "/api/reports",
                json={"account": "adult", "text": "he keeps asking where I live"},
                headers={"x-account-id": "kid"},
            )
        assert reported.status_code == 200
    finally:
        await middleware.close()  # writes the queued report
        await drop_host_tables(engine)
    [item] = await ModerationQueue(engine).open_items()
    assert (item.kind.value, item.account_id, item.title) == (
        "report",
        "adult",
        "child-endangerment report",
    )
    [row] = await _rows(engine)
    assert (row["reporter_id"], row["reporter_band"], row["reported_band"]) == (
        "kid",
        "13_15",
        "adult",
    )
    assert "where I live" not in repr(row)  # the report's text is never stored
    period = Period.of(as_date(T0), as_date(T0))
    report = await transparency_report(engine, period)
    assert report.reports_received == 1
    assert report.reports_by_reporter_band == {"13_15": 1}


async def test_a_route_that_names_the_report_text_keeps_the_childs_words_in_a_case_due_in_a_day(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    clock = FrozenClock(T0)
    await seed(engine, clock)
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        POLICY.replace(
            "    action: report\n    targets: [{json: account}]",
            "    action: report\n    targets: [{json: account}]\n    report_text: json.text",
        )
    )
    assert "report_text" in policy.read_text()
    middleware = SafeAccountsMiddleware(
        HostApp().build(),
        policy=policy,
        database_url=database_url,
        clock=clock,
        signals=attach_grooming_alerts(),
    )
    await middleware.start()
    try:
        transport = httpx.ASGITransport(app=middleware)
        async with httpx.AsyncClient(transport=transport, base_url="http://host") as client:
            reported = await client.post(
                "/api/reports",
                json={"account": "adult", "text": "  he keeps asking where I live  "},
                headers={"x-account-id": "kid"},
            )
        assert reported.status_code == 200
        await middleware.drain()  # written, and filed into its case by the middleware
        [case] = await open_cases(engine, now=T0)
    finally:
        await middleware.close()
        await drop_host_tables(engine)
    [row] = await _rows(engine)
    assert row["text"] == "he keeps asking where I live"
    assert (case.account_id, case.reports, case.due_at) == ("adult", 1, T0 + 86_400)
