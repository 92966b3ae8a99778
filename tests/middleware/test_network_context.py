"""Network context end to end (`relationships.community_ties`): a child's rejection counts
towards `scattered-rejections-by-minors` only when the child shares nothing with the
requester's circle as the host's query says it at that moment; a teen account's requests
to children outside its circle count towards `scattered-requests-from-minors`; an adult's
requests to children whose only friends in common are new count towards
`requests-through-new-ties`. Each on both signal stores (in process, Redis), at its
threshold; with Redis, two workers answering at once raise one alert."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts import AgeBand, SafeAccountsMiddleware
from safe_accounts.alerts.tables import alerts
from safe_accounts.clock import FrozenClock
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts

from .conftest import POLICY, HostApp, Wrapped, drop_host_tables, seed

# The host's circle of each account: members, and since when (seconds since the epoch).
# The ties of (actor, child) are the child's friends in the actor's circle at `:now`.
TIES_POLICY = POLICY.replace(
    "  cache_seconds: 0\n",
    textwrap.indent(
        textwrap.dedent(
            """\
            community_ties:
              sql: >-
                SELECT COUNT(*) FROM host_friendships theirs JOIN host_circle circle
                ON circle.member = theirs.b
                WHERE theirs.a = :target AND circle.actor = :actor AND circle.since < :now
            cache_seconds: 0
            """
        ),
        "  ",
    ),
)
# As the demo policy does: the cap on requests to strangers counts only children outside
# the circle.
TIES_POLICY += textwrap.dedent(
    """    signals:
      counts:
        - id: unconnected-minors-requested
          where: {other_band: [minor], mutual_connections: {max: 0}, community_ties: {max: 0}, refused: false}
    """
)
assert "community_ties" in TIES_POLICY
TEAM = [f"team-{i}" for i in range(7)]  # each a friend of "kid", in the coach's circle

NOW = 1_800_000_000.0
STRANGERS = ["far-1", "far-2", "far-3", "far-4"]
EXTRA_STRANGERS = ["far-5", "far-6"]
# "club-kid" is friends with "kid", whom "coach" has known for a year; "new-kid" is friends
# with "kid-friend", in the coach's circle only from tomorrow.
CIRCLE = [("coach", "kid", NOW - 365 * 86400), ("coach", "kid-friend", NOW + 86400)]
EXTRA_FRIENDS = [("club-kid", "kid"), ("new-kid", "kid-friend"), *[(t, "kid") for t in TEAM]]


async def prepare_host(engine: AsyncEngine, clock: FrozenClock) -> None:
    await seed(engine, clock)
    async with engine.begin() as conn:
        await conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS host_circle (actor VARCHAR(64), member VARCHAR(64), since FLOAT)"
        )
        await conn.exec_driver_sql("DELETE FROM host_circle")
        for actor, member, since in CIRCLE:
            await conn.exec_driver_sql(f"INSERT INTO host_circle VALUES ('{actor}', '{member}', {since})")
        for a, b in EXTRA_FRIENDS:
            await conn.exec_driver_sql(f"INSERT INTO host_friendships VALUES ('{a}', '{b}'), ('{b}', '{a}')")
        for i in range(1, len(STRANGERS) + 3):
            await conn.exec_driver_sql(f"INSERT INTO host_requests VALUES ('{200 + i}', 'coach')")


async def start_worker(
    database_url: str, policy: Path, clock: FrozenClock, redis_url: str | None = None, redis_prefix: str | None = None
) -> Wrapped:
    host = HostApp()
    middleware = SafeAccountsMiddleware(
        host.build(), policy=policy, database_url=database_url, clock=clock,
        redis_url=redis_url, redis_prefix=redis_prefix, signals=attach_grooming_alerts(flush_interval=0.01),
    )
    runtime = await middleware.start()
    for child in [*STRANGERS, "club-kid", "new-kid", *TEAM, *EXTRA_STRANGERS]:
        await runtime.bands.set(child, band=AgeBand.B13_15)
    await runtime.bands.set("coach", band=AgeBand.ADULT)
    await runtime.bands.set("newcomer", band=AgeBand.ADULT)
    await runtime.bands.set("fake-teen", band=AgeBand.B13_15)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://testserver")
    return Wrapped(host, middleware, client)


async def worker_on_store(
    request: pytest.FixtureRequest, database_url: str, policy_text: str, tmp_path: Path, clock: FrozenClock
) -> Wrapped:
    """A worker running `policy_text` on the signal store the fixture's parameter names:
    "in-process", or "redis" (the test's own Redis key prefix)."""
    redis_url = redis_prefix = None
    if request.param == "redis":
        redis_url = request.getfixturevalue("redis_url")
        redis_prefix = request.getfixturevalue("redis_prefix")
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_text)
    return await start_worker(database_url, policy, clock, redis_url, redis_prefix)


async def stop(worker: Wrapped) -> None:
    await worker.client.aclose()
    await worker.middleware.close()


async def drop_circle(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE IF EXISTS host_circle")
    await drop_host_tables(engine)


@pytest.fixture(params=["in-process", pytest.param("redis", marks=pytest.mark.redis)])
async def wired(
    request: pytest.FixtureRequest, engine: AsyncEngine, database_url: str, tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[Wrapped]:
    await prepare_host(engine, clock)
    worker = await worker_on_store(request, database_url, TIES_POLICY, tmp_path, clock)
    yield worker
    await stop(worker)
    await drop_circle(engine)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)



async def _reject(w: Wrapped, child: str) -> None:
    request_id = 200 + [*STRANGERS, "club-kid", "new-kid"].index(child) + 1
    assert (await w.post(f"/api/friend-requests/{request_id}/reject", child)).status_code == 200
    await w.middleware.drain()


async def test_two_rejections_by_children_outside_the_circle_raise_one_alert(wired: Wrapped) -> None:
    await _reject(wired, "far-1")
    assert await wired.alerts.service.list() == []
    await _reject(wired, "far-2")
    await _reject(wired, "far-3")
    raised = await wired.alerts.service.list()
    assert [(a.subject, a.signal) for a in raised] == [("coach", "scattered-rejections-by-minors")]
    assert wired.alerts.restrictions.is_restricted("coach")
    # The evidence says what counted: rejections by children with no tie to the circle.
    items = [i for i in raised[0].evidence if i["kind"] == "contact_rejected"]
    assert {i["other"] for i in items} >= {"far-1", "far-2"}
    assert all(i["ties"] == 0 for i in items)


async def test_a_rejection_by_a_friend_of_the_circle_does_not_count(wired: Wrapped) -> None:
    await _reject(wired, "club-kid")  # friends with "kid", in the coach's circle for a year
    await _reject(wired, "far-1")
    assert await wired.alerts.service.list() == []


async def test_the_circle_is_read_at_the_moment_of_the_answer(wired: Wrapped) -> None:
    # "new-kid" is friends with "kid-friend", who joins the coach's circle only tomorrow.
    await _reject(wired, "new-kid")
    await _reject(wired, "far-1")
    assert [a.signal for a in await wired.alerts.service.list()] == ["scattered-rejections-by-minors"]


async def test_a_teen_account_asking_three_children_outside_its_circle_is_alerted(wired: Wrapped) -> None:
    for child in STRANGERS[:2]:
        assert (await wired.post("/api/friend-requests", "fake-teen", json={"to": child})).status_code == 201
        await wired.middleware.drain()
    assert await wired.alerts.service.list() == []
    assert (await wired.post("/api/friend-requests", "fake-teen", json={"to": STRANGERS[2]})).status_code == 201
    await wired.middleware.drain()
    raised = await wired.alerts.service.list()
    assert [(a.subject, a.signal) for a in raised] == [("fake-teen", "scattered-requests-from-minors")]


async def test_an_adults_requests_never_count_as_a_teens(wired: Wrapped) -> None:
    for child in STRANGERS:
        await wired.post("/api/friend-requests", "coach", json={"to": child})
        await wired.middleware.drain()
    assert "scattered-requests-from-minors" not in [a.signal for a in await wired.alerts.service.list()]


async def test_children_reached_through_a_new_friend_raise_an_alert_through_an_old_one_none(
    wired: Wrapped, engine: AsyncEngine
) -> None:
    # "parent" is the parent of "kid" and of "club-kid". "newcomer" befriended the parent
    # this week (not in its circle); "coach" has known the parent for a year.
    async with engine.begin() as conn:
        for a, b in [("newcomer", "parent"), ("coach", "parent"), ("parent", "club-kid")]:
            await conn.exec_driver_sql(f"INSERT INTO host_friendships VALUES ('{a}', '{b}'), ('{b}', '{a}')")
        await conn.exec_driver_sql(f"INSERT INTO host_circle VALUES ('coach', 'parent', {NOW - 365 * 86400})")
    for child in ("kid", "club-kid"):
        assert (await wired.post("/api/friend-requests", "coach", json={"to": child})).status_code == 201
        await wired.middleware.drain()
    assert await wired.alerts.service.list() == []
    assert (await wired.post("/api/friend-requests", "newcomer", json={"to": "kid"})).status_code == 201
    await wired.middleware.drain()
    assert await wired.alerts.service.list() == []
    assert (await wired.post("/api/friend-requests", "newcomer", json={"to": "club-kid"})).status_code == 201
    await wired.middleware.drain()
    raised = await wired.alerts.service.list()
    assert [(a.subject, a.signal) for a in raised] == [("newcomer", "requests-through-new-ties")]


async def test_the_cap_holds_back_requests_to_strangers_children_not_to_a_team(wired: Wrapped) -> None:
    # Seven children who are friends of a child the coach has known for a year: a team day.
    for child in TEAM:
        assert (await wired.post("/api/friend-requests", "coach", json={"to": child})).status_code == 201
        await wired.middleware.drain()
    # The same day, five children outside the circle, then a sixth: held back until tomorrow.
    for child in [*STRANGERS, EXTRA_STRANGERS[0]]:
        assert (await wired.post("/api/friend-requests", "coach", json={"to": child})).status_code == 201
        await wired.middleware.drain()
    refused = await wired.post("/api/friend-requests", "coach", json={"to": EXTRA_STRANGERS[1]})
    assert refused.status_code == 403
    assert refused.json()["rule"] == "stranger-request-cap"


@pytest.fixture
async def two_workers(
    engine: AsyncEngine, database_url: str, tmp_path: Path, clock: FrozenClock, redis_url: str, redis_prefix: str
) -> AsyncIterator[list[Wrapped]]:
    await prepare_host(engine, clock)
    policy = tmp_path / "policy.yaml"
    policy.write_text(TIES_POLICY)
    workers = [await start_worker(database_url, policy, clock, redis_url, redis_prefix) for _ in range(2)]
    yield workers
    for worker in workers:
        await stop(worker)
    await drop_circle(engine)


async def _alert_rows(engine: AsyncEngine) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        return [(r.subject, r.signal) for r in await conn.execute(select(alerts.c.subject, alerts.c.signal))]


@pytest.mark.redis
async def test_two_workers_answering_at_once_cross_each_network_signal_once(
    two_workers: list[Wrapped], engine: AsyncEngine
) -> None:
    a, b = two_workers
    # The coach's first two rejections from outside the circle arrive together, one through
    # each worker: neither worker alone has two, the shared count reaches two once. Two more
    # after them cross nothing.
    await asyncio.gather(_reject(a, "far-1"), _reject(b, "far-2"))
    await asyncio.gather(_reject(a, "far-3"), _reject(b, "far-4"))
    # The fake teen's three requests to children outside its circle, at once, through both
    # workers; a fourth after them.
    sent = await asyncio.gather(*(
        worker.post("/api/friend-requests", "fake-teen", json={"to": child})
        for worker, child in zip([a, b, a], STRANGERS, strict=False)
    ))
    sent.append(await b.post("/api/friend-requests", "fake-teen", json={"to": STRANGERS[3]}))
    assert all(response.status_code == 201 for response in sent)
    for worker in two_workers:
        await worker.middleware.drain()
    crossings = sum(worker.alerts.recorder.health()["crossings"] for worker in two_workers)
    assert crossings == 2
    rows = await _alert_rows(engine)
    assert sorted(rows) == [
        ("coach", "scattered-rejections-by-minors"), ("fake-teen", "scattered-requests-from-minors")
    ]
