"""Age misrepresentation end to end (`relationships.adult_connections`): a teen account whose
own connections are mostly adults is alerted at its second request to a child outside its
circle, by the host's query over its own tables at the middleware clock's date; a circle
that is not yet mostly adult, or a lookup that fails, raises no such alert. On both signal
stores (in process, Redis) and both databases; with Redis, two workers asking at once raise
one alert."""

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

SIGNAL = "adult-circle-teen-requests"
# The host keeps birth dates as ISO text; the middleware says who is an adult today
# (born on or before :adult_born_by). Fewer than three friends: too few to say.
ADULTS_POLICY = TIES_POLICY.replace(
    "  cache_seconds: 0\n",
    textwrap.indent(
        textwrap.dedent(
            """\
            adult_connections:
              sql: >-
                SELECT CASE WHEN COUNT(*) >= 3 THEN
                  100 * SUM(CASE WHEN born.birth_date <= :adult_born_by THEN 1 ELSE 0 END) / COUNT(*)
                END
                FROM host_friendships f JOIN host_born born ON born.account = f.b
                WHERE f.a = :account
            cache_seconds: 0
            """
        ),
        "  ",
    ),
    1,
) + textwrap.indent(
    textwrap.dedent(
        f"""\
        - id: {SIGNAL}
          event: contact_request
          where: {{subject_band: [minor], other_band: [minor], community_ties: {{max: 0}},
                  subject_adult_connections: {{min: 60}}, refused: false}}
          window: 7d
          count: distinct_others
          threshold: 2
          reason: a teen account whose circle is mostly adults asked two children outside it
          escalate: {{restrict: true}}
        """
    ),
    "    ",
)
assert "host_born" in ADULTS_POLICY and f"- id: {SIGNAL}" in ADULTS_POLICY

# NOW is 2027-01-15 (UTC): someone born on 2009-01-15 is 18 today, on 2009-01-16 not yet.
CIRCLE = {
    "adult-1": "1980-05-01",
    "adult-2": "1975-11-30",
    "just-18": "2009-01-15",
    "pal-1": "2011-02-01",
    "pal-2": "2012-07-07",
}


async def add_circle(engine: AsyncEngine, *, just_18_born: str = CIRCLE["just-18"]) -> None:
    """The fake teen's friends: three adults of five (60%), one of them 18 only today."""
    async with engine.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS host_born (account VARCHAR(64), birth_date VARCHAR(10))")
        await conn.exec_driver_sql("DELETE FROM host_born")
        for friend, born in CIRCLE.items():
            born = just_18_born if friend == "just-18" else born
            await conn.exec_driver_sql(f"INSERT INTO host_born VALUES ('{friend}', '{born}')")
            await conn.exec_driver_sql(
                f"INSERT INTO host_friendships VALUES ('fake-teen', '{friend}'), ('{friend}', 'fake-teen')"
            )


async def drop_born(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE IF EXISTS host_born")
    await drop_circle(engine)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture(params=["in-process", pytest.param("redis", marks=pytest.mark.redis)])
async def wired(
    request: pytest.FixtureRequest, engine: AsyncEngine, database_url: str, tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[Wrapped]:
    await prepare_host(engine, clock)
    await add_circle(engine)
    worker = await worker_on_store(request, database_url, ADULTS_POLICY, tmp_path, clock)
    yield worker
    await stop(worker)
    await drop_born(engine)



async def _ask(w: Wrapped, child: str) -> None:
    assert (await w.post("/api/friend-requests", "fake-teen", json={"to": child})).status_code == 201
    await w.middleware.drain()


async def test_a_teen_whose_circle_is_mostly_adults_is_alerted_at_the_second_child_asked(wired: Wrapped) -> None:
    await _ask(wired, STRANGERS[0])
    assert await wired.alerts.service.list() == []
    await _ask(wired, STRANGERS[1])
    raised = await wired.alerts.service.list()
    assert [(a.subject, a.signal) for a in raised] == [("fake-teen", SIGNAL)]
    assert wired.alerts.restrictions.is_restricted("fake-teen")
    # The evidence says what the share was when each request was sent.
    shares = {i["other"]: i.get("subject_adult_connections") for i in raised[0].evidence}
    assert shares == {STRANGERS[0]: 60, STRANGERS[1]: 60}


async def test_a_friend_who_turns_18_tomorrow_is_not_yet_an_adult(wired: Wrapped, engine: AsyncEngine) -> None:
    # Two adults of five (40%): the teen's two requests outside its circle are no alert of
    # this signal (the baseline's own, at three, is another matter).
    await add_circle(engine, just_18_born="2009-01-16")
    await _ask(wired, STRANGERS[0])
    await _ask(wired, STRANGERS[1])
    assert await wired.alerts.service.list() == []


async def test_too_few_connections_to_say_raise_no_alert(wired: Wrapped, engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.exec_driver_sql(
            "DELETE FROM host_friendships WHERE a = 'fake-teen' AND b IN ('pal-1', 'pal-2', 'adult-2')"
        )
    await _ask(wired, STRANGERS[0])
    await _ask(wired, STRANGERS[1])
    assert await wired.alerts.service.list() == []


async def test_a_lookup_that_fails_raises_no_alert_of_its_own(wired: Wrapped, engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE host_born")
    await _ask(wired, STRANGERS[0])
    await _ask(wired, STRANGERS[1])
    assert await wired.alerts.service.list() == []
    # The baseline's signals go on without it: the third child outside the circle.
    await _ask(wired, STRANGERS[2])
    raised = await wired.alerts.service.list()
    assert [(a.subject, a.signal) for a in raised] == [("fake-teen", "scattered-requests-from-minors")]


@pytest.fixture
async def two_workers(
    engine: AsyncEngine, database_url: str, tmp_path: Path, clock: FrozenClock, redis_url: str, redis_prefix: str
) -> AsyncIterator[list[Wrapped]]:
    await prepare_host(engine, clock)
    await add_circle(engine)
    policy = tmp_path / "policy.yaml"
    policy.write_text(ADULTS_POLICY)
    workers = [await start_worker(database_url, policy, clock, redis_url, redis_prefix) for _ in range(2)]
    yield workers
    for worker in workers:
        await stop(worker)
    await drop_born(engine)


@pytest.mark.redis
async def test_two_workers_asking_at_once_raise_one_alert(two_workers: list[Wrapped], engine: AsyncEngine) -> None:
    a, b = two_workers
    # Two requests at once, one through each worker: neither worker alone has two, the
    # shared count reaches two once.
    sent = await asyncio.gather(
        a.post("/api/friend-requests", "fake-teen", json={"to": STRANGERS[0]}),
        b.post("/api/friend-requests", "fake-teen", json={"to": STRANGERS[1]}),
    )
    assert all(response.status_code == 201 for response in sent)
    for worker in two_workers:
        await worker.middleware.drain()
    crossings = sum(worker.alerts.recorder.health()["crossings"] for worker in two_workers)
    assert crossings == 1
    async with engine.connect() as conn:
        rows = [(r.subject, r.signal) for r in await conn.execute(select(alerts.c.subject, alerts.c.signal))]
    assert rows == [("fake-teen", SIGNAL)]
