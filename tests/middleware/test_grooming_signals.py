"""Signals end to end: children's answers and refusals become alerts, alerts restrict, restrictions bite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts import AgeBand, SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock
from safe_accounts.policy.model import DEFAULT_RESTRICTED_NOTICE
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts

from .conftest import HostApp, Wrapped, drop_host_tables, seed

CHILDREN = ["kid", "young", "teen", "kid-friend", "fifth-child"]


@pytest.fixture(params=["in-process", pytest.param("redis", marks=pytest.mark.redis)])
async def with_signals(
    request: pytest.FixtureRequest, engine: AsyncEngine, database_url: str, policy_file: Path, clock: FrozenClock
) -> AsyncIterator[Wrapped]:
    redis_url = redis_prefix = None
    if request.param == "redis":
        redis_url = request.getfixturevalue("redis_url")
        redis_prefix = request.getfixturevalue("redis_prefix")
    await seed(engine, clock)
    async with engine.begin() as conn:
        for i in range(1, len(CHILDREN) + 1):
            await conn.exec_driver_sql(f"INSERT INTO host_requests VALUES ('{100 + i}', 'parent')")
    alerted: list[object] = []
    host = HostApp()
    middleware = SafeAccountsMiddleware(
        host.build(), policy=policy_file, database_url=database_url, redis_url=redis_url,
        redis_prefix=redis_prefix, clock=clock,
        signals=attach_grooming_alerts(on_alert=alerted.append, flush_interval=0.01),
    )
    runtime = await middleware.start()
    await runtime.bands.set("fifth-child", band=AgeBand.UNDER_13)
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        wrapped = Wrapped(host, middleware, client)
        wrapped.alerted = alerted  # type: ignore[attr-defined]
        yield wrapped
    await middleware.close()
    await drop_host_tables(engine)



async def _reject_all(w: Wrapped, children: list[str]) -> None:
    for i, child in enumerate(CHILDREN, start=1):
        if child in children:
            response = await w.post(f"/api/friend-requests/{100 + i}/reject", child)
            assert response.status_code == 200


async def test_four_rejections_by_children_raise_nothing(with_signals: Wrapped) -> None:
    await _reject_all(with_signals, CHILDREN[:4])
    await with_signals.middleware.drain()
    alerts = with_signals.alerts
    assert await alerts.service.list() == []
    assert not alerts.restrictions.is_restricted("parent")


async def test_the_fifth_rejection_raises_one_alert_and_restricts_the_requester(with_signals: Wrapped) -> None:
    await _reject_all(with_signals, CHILDREN)
    await with_signals.middleware.drain()
    alerts = with_signals.alerts
    raised = await alerts.service.list()
    assert [(a.subject, a.signal) for a in raised] == [("parent", "rejected-by-minors")]
    assert alerts.restrictions.is_restricted("parent")

    # Restricted: even a child the account is connected with cannot be messaged now ...
    dm = await with_signals.post("/api/v1/messages", "parent", json={"to": "kid"})
    assert dm.status_code == 403
    # ... told neutrally: nothing says the target is a child or that a moderator is looking,
    # and no rule id does either (the decision id finds the row).
    assert dm.json()["detail"] == DEFAULT_RESTRICTED_NOTICE
    assert "rule" not in dm.json() and dm.json()["decision_id"]
    # ... it vanishes from children's search ...
    search = await with_signals.get("/api/search", "kid")
    assert "parent" not in {item["id"] for item in search.json()["results"]}
    # ... and adults are still reachable.
    ok = await with_signals.post("/api/v1/messages", "parent", json={"to": "other-adult"})
    assert ok.status_code == 201


async def test_more_rejections_after_the_alert_raise_no_second_alert(with_signals: Wrapped) -> None:
    await _reject_all(with_signals, CHILDREN)
    await _reject_all(with_signals, CHILDREN)
    await with_signals.middleware.drain()
    alerts = with_signals.alerts
    assert len(await alerts.service.list()) == 1


async def test_denied_stranger_dms_to_three_children_raise_an_alert(with_signals: Wrapped) -> None:
    for child in ("kid", "young", "teen"):
        response = await with_signals.post("/api/v1/messages", "adult", json={"to": child})
        assert response.status_code == 403
    await with_signals.middleware.drain()
    alerts = with_signals.alerts
    assert [(a.subject, a.signal) for a in await alerts.service.list()] == [("adult", "denied-dms-to-minors")]


async def test_blocks_by_three_children_raise_an_alert_against_the_blocked_account(with_signals: Wrapped) -> None:
    for child in ("kid", "young", "teen"):
        response = await with_signals.post("/api/blocks", child, json={"account": "adult"})
        assert response.status_code == 200
    await with_signals.middleware.drain()
    alerts = with_signals.alerts
    assert [(a.subject, a.signal) for a in await alerts.service.list()] == [("adult", "blocked-by-minors")]


async def test_the_alert_reaches_the_callback_once(with_signals: Wrapped) -> None:
    await _reject_all(with_signals, CHILDREN)
    await with_signals.middleware.drain()  # delivered, whichever pass of the outbox took it
    await with_signals.middleware.drain()  # and another pass delivers nothing twice
    assert [a.signal for a in with_signals.alerted] == ["rejected-by-minors"]  # type: ignore[attr-defined]


async def test_a_childs_report_enters_the_moderation_queue_without_its_text(with_signals: Wrapped) -> None:
    response = await with_signals.post(
        "/api/reports", "kid", json={"account": "adult", "reason": "he asked for photos"}
    )
    assert response.status_code == 200
    await with_signals.middleware.drain()
    async with with_signals.middleware.engine.connect() as conn:
        rows = (await conn.exec_driver_sql("SELECT * FROM safe_accounts_reports")).mappings().all()
    assert [(r["reporter_id"], r["reporter_band"], r["reported_id"], r["reported_band"]) for r in rows] == [
        ("kid", "13_15", "adult", "adult")
    ]
    assert "photos" not in repr([dict(r) for r in rows])


async def test_rejections_named_only_in_the_apps_answer_count_too(
    with_signals: Wrapped, monkeypatch: pytest.MonkeyPatch
) -> None:
    from . import conftest

    monkeypatch.setattr(conftest, "REQUEST_SENDERS", {f"r{i}": "parent" for i in range(len(CHILDREN))})
    for i, child in enumerate(CHILDREN):
        response = await with_signals.post(f"/api/v2/friend-requests/r{i}/reject", child)
        assert response.status_code == 200
    unknown = await with_signals.post("/api/v2/friend-requests/nope/reject", "kid")
    assert unknown.status_code == 404
    await with_signals.middleware.drain()
    alerts = with_signals.alerts
    assert [(a.subject, a.signal) for a in await alerts.service.list()] == [("parent", "rejected-by-minors")]
