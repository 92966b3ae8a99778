"""Risk scores end to end (`signals.scores`): an adult whose requests reach children outside
its circle crosses a score over a signal that never alerts on its own, and is alerted and
restricted by it, off the request path, with each part's contribution in the evidence; one
request is not enough. A score crossing by an account with an open alert joins that alert.
On both signal stores (in process, Redis); with Redis, two workers whose requests together
cross the score raise one alert."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.alerts.tables import alerts
from safe_accounts.clock import FrozenClock

from .conftest import Wrapped
from .test_network_context import (
    NOW,
    STRANGERS,
    TIES_POLICY,
    drop_circle,
    prepare_host,
    start_worker,
    stop,
    worker_on_store,
)

SCORE = "reach-risk"
# `unconnected-minors-requested` (the baseline's count for the request cap, `alert: false`)
# counts requests that reached children with no friend in common and, as here, no tie to
# the circle: two of them make the score 1.0.
SCORE_POLICY = TIES_POLICY + textwrap.indent(
    textwrap.dedent(
        f"""\
        scores:
          - id: {SCORE}
            threshold: 1.0
            reason: requests reaching children outside the account's circle, with rejections
            escalate: {{restrict: true}}
            parts:
              - {{signal: unconnected-minors-requested, weight: 0.5}}
              - {{signal: rejected-by-minors, weight: 0.2}}
        """
    ),
    "  ",
)
assert f"- id: {SCORE}" in SCORE_POLICY


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture(params=["in-process", pytest.param("redis", marks=pytest.mark.redis)])
async def wired(
    request: pytest.FixtureRequest, engine: AsyncEngine, database_url: str, tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[Wrapped]:
    await prepare_host(engine, clock)
    worker = await worker_on_store(request, database_url, SCORE_POLICY, tmp_path, clock)
    yield worker
    await stop(worker)
    await drop_circle(engine)



async def _ask(w: Wrapped, child: str, actor: str = "newcomer") -> None:
    assert (await w.post("/api/friend-requests", actor, json={"to": child})).status_code == 201


async def test_one_request_outside_the_circle_is_below_the_score(wired: Wrapped) -> None:
    await _ask(wired, STRANGERS[0])
    await wired.middleware.drain()
    assert await wired.alerts.service.list() == []


async def test_the_second_request_crosses_the_score_off_the_request_path(wired: Wrapped) -> None:
    await _ask(wired, STRANGERS[0])
    await _ask(wired, STRANGERS[1])
    assert not wired.alerts.restrictions.is_restricted("newcomer")  # nothing on the request path
    await wired.middleware.drain()
    (raised,) = await wired.alerts.service.list()
    assert (raised.subject, raised.signal) == ("newcomer", SCORE)
    assert raised.counts == {"score": 1.0, "threshold": 1.0}
    assert wired.alerts.restrictions.is_restricted("newcomer")
    parts = {item["signal"]: item for item in raised.evidence}
    assert parts["unconnected-minors-requested"] | {"at": 0} == {
        "kind": "score_part",
        "signal": "unconnected-minors-requested",
        "value": 2.0,
        "weight": 0.5,
        "contribution": 1.0,
        "other": None,
        "other_band": None,
        "mutual": None,
        "at": 0,
    }
    assert parts["rejected-by-minors"]["contribution"] == 0.0
    # Restricted: a third request is refused, and counted towards nothing that reached a child.
    assert (await wired.post("/api/friend-requests", "newcomer", json={"to": STRANGERS[2]})).status_code == 403
    await wired.middleware.drain()
    assert [a.id for a in await wired.alerts.service.list()] == [raised.id]


async def test_a_score_crossing_joins_the_accounts_open_alert(wired: Wrapped) -> None:
    # Three direct messages to children refused: the baseline's `denied-dms-to-minors`
    # alerts (without restricting).
    for child in STRANGERS[:3]:
        assert (await wired.post("/api/v1/messages", "newcomer", json={"to": child})).status_code == 403
    await wired.middleware.drain()
    (first,) = await wired.alerts.service.list()
    assert first.signal == "denied-dms-to-minors"
    # Two requests reaching children cross the score, which joins the open alert (and
    # restricts) instead of raising another.
    await _ask(wired, STRANGERS[0])
    await _ask(wired, STRANGERS[1])
    await wired.middleware.drain()
    (joined,) = await wired.alerts.service.list()
    assert joined.id == first.id
    assert joined.counts["crossings"] == 2 and joined.counts[SCORE] == 1.0
    assert {item["signal"] for item in joined.evidence if item["kind"] == "score_part"} == {
        "unconnected-minors-requested",
        "rejected-by-minors",
    }
    assert wired.alerts.restrictions.is_restricted("newcomer")


@pytest.fixture
async def two_workers(
    engine: AsyncEngine, database_url: str, tmp_path: Path, clock: FrozenClock, redis_url: str, redis_prefix: str
) -> AsyncIterator[list[Wrapped]]:
    await prepare_host(engine, clock)
    policy = tmp_path / "policy.yaml"
    policy.write_text(SCORE_POLICY)
    workers = [await start_worker(database_url, policy, clock, redis_url, redis_prefix) for _ in range(2)]
    yield workers
    for worker in workers:
        await stop(worker)
    await drop_circle(engine)


@pytest.mark.redis
async def test_two_workers_crossing_the_score_together_raise_one_alert(
    two_workers: list[Wrapped], engine: AsyncEngine
) -> None:
    a, b = two_workers
    # One request through each worker at once: neither worker alone has two, the shared
    # counts do. Both workers may read them after both are recorded and both offer the
    # crossing: the alert store keeps one live alert per account, the second joins it.
    await asyncio.gather(_ask(a, STRANGERS[0]), _ask(b, STRANGERS[1]))
    await asyncio.gather(a.middleware.drain(), b.middleware.drain())
    async with engine.connect() as conn:
        rows = list(await conn.execute(select(alerts.c.subject, alerts.c.signal, alerts.c.counts)))
    assert [(r.subject, r.signal) for r in rows] == [("newcomer", SCORE)]
    assert rows[0].counts.get("crossings", 1) <= 2
