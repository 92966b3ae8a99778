"""Behaviour after acceptance end to end (issue 14): children accept an adult's requests and
the adult messages them within minutes, or at night, through two workers (two middleware
instances) sharing one Redis and one database - one alert in all, raised at the threshold.
A policy that counts no direct message records none."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.alerts.pipeline import GroomingAlerts
from safe_accounts.clock import FrozenClock
from safe_accounts.decide.actions import ACTIONS
from safe_accounts.policy.model import Action, EventKind
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts

from .conftest import POLICY, drop_host_tables, seed

SIGNALS = """
signals:
  night: {from: "22:00", to: "06:00", timezone: Europe/London}
  counts:
    - id: messages-soon-after-acceptance
      event: direct_message
      where: {other_band: [minor], subject_band: [adult], accepted_within: 10m}
      window: 7d
      count: distinct_others
      threshold: 3
      reason: Messaged three under-18s within ten minutes of their accepting a contact request, within 7 days.
      escalate: {restrict: true}
    - id: night-messages-to-minors
      event: direct_message
      where: {other_band: [minor], subject_band: [adult], at_night: true}
      window: 7d
      count: distinct_others
      threshold: 3
      reason: Messaged three under-18s at night within 7 days.
"""
CHILDREN = ["kid", "young", "teen"]
REQUESTS = {child: str(20 + i) for i, child in enumerate(CHILDREN)}  # request id, from "adult"
# 14:00 in London (GMT in January): by day.
NOON = datetime(2027, 1, 12, 14, 0, tzinfo=UTC).timestamp()


def host_app(engine: AsyncEngine) -> Starlette:
    """An accepted request makes the pair friends in the app's tables, so the DM is allowed."""

    async def dm(request: Request) -> JSONResponse:
        return JSONResponse({"sent": True}, status_code=201)

    async def answer(request: Request) -> JSONResponse:
        me = request.headers["x-account-id"]
        async with engine.begin() as conn:
            sender = await conn.scalar(
                text("SELECT sender FROM host_requests WHERE id = :id"), {"id": str(request.path_params["request"])}
            )
            if request.path_params["answer"] == "accept":
                await conn.execute(
                    text("INSERT INTO host_friendships VALUES (:me, :other), (:other, :me)"),
                    {"me": me, "other": sender},
                )
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/api/v1/messages", dm, methods=["POST"]),
            Route("/api/friend-requests/{request:int}/{answer}", answer, methods=["POST"]),
        ]
    )


class Worker:
    def __init__(self, middleware: SafeAccountsMiddleware) -> None:
        self.middleware = middleware
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://testserver")

    async def accept(self, child: str) -> None:
        response = await self.client.post(
            f"/api/friend-requests/{REQUESTS[child]}/accept", headers={"x-account-id": child}
        )
        assert response.status_code == 200
        await self.middleware.drain()

    async def message(self, sender: str, child: str) -> int:
        response = await self.client.post("/api/v1/messages", json={"to": child}, headers={"x-account-id": sender})
        await self.middleware.drain()
        return response.status_code

    @property
    def alerts(self) -> GroomingAlerts:
        assert self.middleware.runtime is not None and self.middleware.runtime.alerts is not None
        return self.middleware.runtime.alerts

    async def close(self) -> None:
        await self.client.aclose()
        await self.middleware.close()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOON)


async def start(
    engine: AsyncEngine, tmp_path: Path, database_url: str, redis_url: str, redis_prefix: str, clock: FrozenClock,
    policy_text: str,
) -> list[Worker]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_text)
    workers = []
    for _ in range(2):
        middleware = SafeAccountsMiddleware(
            host_app(engine), policy=policy, database_url=database_url, redis_url=redis_url,
            redis_prefix=redis_prefix, clock=clock, signals=attach_grooming_alerts(flush_interval=0.01),
        )
        await middleware.start()
        workers.append(Worker(middleware))
    return workers


@pytest.fixture
async def two_workers(
    engine: AsyncEngine, tmp_path: Path, database_url: str, redis_url: str, redis_prefix: str, clock: FrozenClock
) -> AsyncIterator[list[Worker]]:
    await seed(engine, clock)
    async with engine.begin() as conn:
        for request in REQUESTS.values():
            await conn.execute(text("INSERT INTO host_requests VALUES (:id, 'adult')"), {"id": request})
    workers = await start(engine, tmp_path, database_url, redis_url, redis_prefix, clock, POLICY + SIGNALS)
    yield workers
    for worker in workers:
        await worker.close()
    await drop_host_tables(engine)


async def raised(worker: Worker) -> list[tuple[str, str]]:
    return [(a.subject, a.signal) for a in await worker.alerts.service.list()]


@pytest.mark.redis
async def test_messages_minutes_after_acceptance_through_two_workers_raise_one_alert_at_the_third_child(
    two_workers: list[Worker], clock: FrozenClock
) -> None:
    a, b = two_workers
    for i, child in enumerate(CHILDREN):
        # The child accepts through one worker; the adult writes three minutes later through the other.
        accepting, writing = (a, b) if i % 2 == 0 else (b, a)
        clock.set(NOON + i * 3600)
        await accepting.accept(child)
        clock.advance(180)
        assert await writing.message("adult", child) == 201
        assert await raised(a) == ([] if i < 2 else [("adult", "messages-soon-after-acceptance")])
    (alert,) = await b.alerts.service.list()
    assert {item["kind"] for item in alert.evidence} == {"direct_message"}
    assert all(set(item) <= {"kind", "other", "other_band", "mutual", "at"} for item in alert.evidence)
    assert a.alerts.restrictions.is_restricted("adult") and b.alerts.restrictions.is_restricted("adult")


@pytest.mark.redis
async def test_messages_long_after_acceptance_by_day_raise_nothing(
    two_workers: list[Worker], clock: FrozenClock
) -> None:
    a, b = two_workers
    for i, child in enumerate(CHILDREN):
        clock.set(NOON - 3 * 3600 + i * 60)
        await a.accept(child)
    clock.set(NOON)
    for i, child in enumerate(CHILDREN):
        assert await (a, b)[i % 2].message("adult", child) == 201
    assert await raised(a) == []


@pytest.mark.redis
async def test_messages_at_night_through_two_workers_raise_one_alert(
    two_workers: list[Worker], clock: FrozenClock
) -> None:
    a, b = two_workers
    for i, child in enumerate(CHILDREN):
        clock.set(NOON - 3 * 3600 + i * 60)
        await a.accept(child)
    for i, child in enumerate(CHILDREN):
        clock.set(NOON + 9 * 3600 + i * 600)  # from 23:00 in London
        assert await (a, b)[i % 2].message("adult", child) == 201
        assert await raised(b) == ([] if i < 2 else [("adult", "night-messages-to-minors")])


async def test_a_policy_that_counts_no_direct_message_does_not_watch_or_record_them(
    engine: AsyncEngine, tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    await seed(engine, clock)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    middleware = SafeAccountsMiddleware(
        host_app(engine), policy=policy, database_url=database_url, clock=clock,
        signals=attach_grooming_alerts(flush_interval=0.01),
    )
    runtime = await middleware.start()
    try:
        dm_routes = [r for r in runtime.policy.routes if r.action is Action.DIRECT_MESSAGE]
        assert dm_routes and all(r.spec is ACTIONS[Action.DIRECT_MESSAGE] for r in dm_routes)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://t") as client:
            sent = await client.post("/api/v1/messages", json={"to": "kid"}, headers={"x-account-id": "parent"})
        assert sent.status_code == 201
        await middleware.drain()
        assert runtime.alerts is not None
        assert EventKind.DIRECT_MESSAGE.value not in runtime.alerts.recorder.health()["submitted"]
    finally:
        await middleware.close()
        await drop_host_tables(engine)
