"""Connections for lookups: a wait in line for one only while the query could still finish
within the budget, and where the time went, counted per kind of lookup."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.db.engine import make_engine
from safe_accounts.db.pool import NoConnectionInTime, connection, fill, settle, timings
from safe_accounts.decide.budget import OverBudget, within
from safe_accounts.errors import StorageError

pytestmark = pytest.mark.postgres


@pytest.fixture
async def one_connection(postgres_database: str) -> AsyncIterator[AsyncEngine]:
    """An engine whose pool holds a single connection: a second lookup must wait in line."""
    engine = make_engine(postgres_database, pool_size=1, max_overflow=0)
    yield engine
    await settle()  # a checkout given up on ends in the background
    await engine.dispose()


async def test_the_pool_is_as_large_as_asked(postgres_database: str) -> None:
    engine = make_engine(postgres_database, pool_size=3, max_overflow=2)
    try:
        assert timings(engine).health()["pool"] == {"size": 3, "max_overflow": 2, "idle": 0, "in_use": 0}
    finally:
        await engine.dispose()


async def test_the_wait_and_the_query_are_counted_for_the_kind_of_lookup(one_connection: AsyncEngine) -> None:
    async with within(5), connection(one_connection, "relationships.connected") as conn:
        assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    report = timings(one_connection).health()
    kind = report["by_kind"]["relationships.connected"]
    assert (kind["queries"], kind["failed"], kind["gave_up_waiting"]) == (1, 0, 0)
    assert sum(kind["waiting_for_connection"]["buckets"].values()) == 1
    assert sum(kind["running_query"]["buckets"].values()) == 1
    assert report["pool"]["in_use"] == 0


async def test_no_wait_in_line_when_the_time_left_cannot_hold_a_typical_query(one_connection: AsyncEngine) -> None:
    times = timings(one_connection).of("bands")
    times.observe(0.0, 10.0)  # this kind's queries take 10 s: the 5 s budget cannot hold one
    async with one_connection.connect() as held:
        await held.execute(text("SELECT 1"))
        with pytest.raises(NoConnectionInTime) as refused:
            async with within(5), connection(one_connection, "bands"):
                pytest.fail("no connection was free")
    assert isinstance(refused.value, StorageError)  # fails closed, as any failed lookup
    assert not isinstance(refused.value, OverBudget)  # given up at once, not when the budget ran out
    assert times.gave_up == 1


async def test_the_wait_in_line_ends_where_a_typical_query_would_no_longer_fit(one_connection: AsyncEngine) -> None:
    times = timings(one_connection).of("bands")
    times.observe(0.0, 1.5)  # a 2 s budget leaves half a second of waiting, never the whole budget
    async with one_connection.connect() as held:
        await held.execute(text("SELECT 1"))
        with pytest.raises(NoConnectionInTime):
            async with within(2), connection(one_connection, "bands"):
                pytest.fail("no connection was free")
    assert times.gave_up == 1


async def test_a_connection_returned_in_time_is_waited_for(one_connection: AsyncEngine) -> None:
    held = await one_connection.connect().start()
    await held.execute(text("SELECT 1"))
    got: list[int] = []

    async def lookup() -> None:
        async with within(30), connection(one_connection, "bands") as conn:
            got.append((await conn.execute(text("SELECT 2"))).scalar_one())

    waiting = asyncio.create_task(lookup())
    await asyncio.sleep(0.05)
    assert got == []
    await held.close()
    await waiting
    assert got == [2]
    assert timings(one_connection).of("bands").gave_up == 0


async def test_without_a_deadline_a_lookup_waits_in_line_as_the_pool_says(one_connection: AsyncEngine) -> None:
    times = timings(one_connection).of("bands")
    times.observe(0.0, 10.0)
    async with connection(one_connection, "bands") as conn:  # an idle connection: taken at once
        assert (await conn.execute(text("SELECT 3"))).scalar_one() == 3
    assert times.gave_up == 0


async def test_fill_opens_the_pools_connections_before_any_request_needs_them(postgres_database: str) -> None:
    engine = make_engine(postgres_database, pool_size=3, max_overflow=2)
    try:
        assert await fill(engine) == 3
        assert timings(engine).health()["pool"] == {"size": 3, "max_overflow": 2, "idle": 3, "in_use": 0}
        assert await fill(engine) == 0  # already full
    finally:
        await engine.dispose()


async def test_a_checkout_its_waiter_gave_up_on_gives_its_connection_back_to_the_pool(
    one_connection: AsyncEngine,
) -> None:
    times = timings(one_connection).of("bands")
    times.observe(0.0, 0.01)
    async with one_connection.connect() as held:
        await held.execute(text("SELECT 1"))
        with pytest.raises(NoConnectionInTime):
            async with within(0.2), connection(one_connection, "bands"):
                pytest.fail("no connection was free")
    # The held connection is back: the abandoned checkout takes it and returns it, rather
    # than leaving it to the garbage collector.
    for _ in range(100):
        await asyncio.sleep(0.01)
        if timings(one_connection).health()["pool"]["in_use"] == 0:
            break
    assert timings(one_connection).health()["pool"] == {"size": 1, "max_overflow": 0, "idle": 1, "in_use": 0}
    async with within(5), connection(one_connection, "bands") as conn:
        assert (await conn.execute(text("SELECT 1"))).scalar() == 1
