"""Concurrent misses for one account share one fetch: a burst about one account is one query."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.bands import BandDirectory, OwnBandStore
from safe_accounts.bands.age import AgeBand, Assurance, BandRecord
from safe_accounts.bands.directory import FETCHES_AT_ONCE
from safe_accounts.clock import FrozenClock
from safe_accounts.policy.model import BandCacheSettings

from .sql import statements

TABLE = "safe_accounts_age_bands"
SETTINGS = BandCacheSettings(size=1000, ttl_seconds=300)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2027, 1, 15, 12, tzinfo=UTC))


@pytest.fixture
async def directory(engine: AsyncEngine, clock: FrozenClock) -> BandDirectory:
    directory = BandDirectory(OwnBandStore(engine, clock=clock), cache=SETTINGS, clock=clock)
    writer = BandDirectory(OwnBandStore(engine, clock=clock), cache=SETTINGS, clock=clock)
    await writer.set("kid", band=AgeBand.B13_15)
    return directory


async def test_twenty_concurrent_misses_on_one_account_make_one_query(
    engine: AsyncEngine, directory: BandDirectory
) -> None:
    with statements(engine, TABLE) as sql:
        records = await asyncio.gather(*(directory.get("kid") for _ in range(20)))
    assert len(sql) == 1
    assert {r.band for r in records} == {AgeBand.B13_15}
    assert (directory.flights.started, directory.flights.joined) == (1, 19)


async def test_concurrent_misses_on_an_account_without_a_record_make_one_query_and_are_cached(
    engine: AsyncEngine, directory: BandDirectory
) -> None:
    with statements(engine, TABLE) as sql:
        records = await asyncio.gather(*(directory.get("nobody") for _ in range(20)))
        again = await directory.get("nobody")
    assert len(sql) == 1
    assert {r.band for r in [*records, again]} == {AgeBand.UNKNOWN}
    assert directory.cached("nobody") is not None


async def test_pages_asked_for_in_the_same_moment_are_one_query(engine: AsyncEngine, directory: BandDirectory) -> None:
    with statements(engine, TABLE) as sql:
        first, second = await asyncio.gather(
            directory.get_many(["kid", "ann"]), directory.get_many(["ann", "kid", "bob"])
        )
    assert len(sql) == 1  # "bob" joined the first page's fetch before it began
    assert first["kid"].band is second["kid"].band is AgeBand.B13_15
    assert second["bob"].band is AgeBand.UNKNOWN


async def test_a_page_joins_the_fetch_in_flight_for_its_overlap_and_fetches_only_the_rest(
    engine: AsyncEngine, directory: BandDirectory
) -> None:
    with statements(engine, TABLE) as sql:
        first = asyncio.create_task(directory.get_many(["kid", "ann"]))
        await _steps(2)  # its fetch has begun
        second = await directory.get_many(["ann", "kid", "bob"])
        await first
    assert len(sql) == 2  # the first page's two accounts, then "bob" alone
    assert first.result()["kid"].band is second["kid"].band is AgeBand.B13_15
    assert second["bob"].band is AgeBand.UNKNOWN


async def test_a_miss_after_an_invalidation_does_not_join_a_fetch_that_began_before_it(
    engine: AsyncEngine, directory: BandDirectory
) -> None:
    with statements(engine, TABLE) as sql:
        before = asyncio.create_task(directory.get("kid"))
        await asyncio.sleep(0)  # its fetch is in flight
        assert len(directory.flights) == 1
        await directory.forget(["kid"])
        after = asyncio.create_task(directory.get("kid"))
        await asyncio.gather(before, after)
    assert len(sql) == 2


class GatedStore:
    """A band store of the app's own making whose reads wait until the test opens the gate."""

    knows_every_account = False

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.fetched: list[list[str]] = []
        self.finished = 0

    async def fetch(self, ids: Sequence[str]) -> dict[str, BandRecord]:
        self.fetched.append(list(ids))
        await self.gate.wait()
        self.finished += 1
        return {i: BandRecord(i, AgeBand.ADULT, Assurance.SELF_DECLARED, "app") for i in ids}

    async def put(self, records: Sequence[BandRecord]) -> None:
        raise NotImplementedError("read-only")


async def test_a_waiter_that_gives_up_leaves_the_fetch_to_the_others(clock: FrozenClock) -> None:
    store = GatedStore()
    directory = BandDirectory(store, cache=SETTINGS, clock=clock)
    leaver = asyncio.create_task(directory.get("adult"))
    stayer = asyncio.create_task(directory.get("adult"))
    await asyncio.sleep(0)
    leaver.cancel()
    await asyncio.sleep(0)
    store.gate.set()
    assert (await stayer).band is AgeBand.ADULT
    assert leaver.cancelled()
    assert (len(store.fetched), store.finished) == (1, 1)


async def test_a_fetch_nobody_waits_for_any_more_is_cancelled_and_caches_nothing(clock: FrozenClock) -> None:
    store = GatedStore()
    directory = BandDirectory(store, cache=SETTINGS, clock=clock)
    alone = asyncio.create_task(directory.get("adult"))
    await asyncio.sleep(0)
    assert len(directory.flights) == 1
    alone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await alone
    await asyncio.sleep(0)  # the fetch's own task ends at its next step
    assert len(directory.flights) == 0
    store.gate.set()
    assert (len(store.fetched), store.finished) == (1, 0)
    assert directory.cached("adult") is None


async def test_a_miss_right_after_the_last_waiter_left_fetches_afresh_instead_of_inheriting_the_cancellation(
    clock: FrozenClock,
) -> None:
    store = SlowToCancelStore()
    directory = BandDirectory(store, cache=SETTINGS, clock=clock)
    alone = asyncio.create_task(directory.get("adult"))
    await asyncio.sleep(0)
    alone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await alone
    # The abandoned fetch is still cleaning up (as a driver's cancelled query does); a new
    # miss must not join it and be handed its cancellation.
    newcomer = asyncio.create_task(directory.get("adult"))
    await asyncio.sleep(0)
    store.gate.set()
    assert (await newcomer).band is AgeBand.ADULT
    assert len(store.fetched) == 2


class SlowToCancelStore(GatedStore):
    """A gated store whose cancelled read takes a few steps to end, like a query being
    cancelled on its server."""

    async def fetch(self, ids: Sequence[str]) -> dict[str, BandRecord]:
        try:
            return await super().fetch(ids)
        except asyncio.CancelledError:
            for _ in range(5):
                await asyncio.sleep(0)
            raise


async def _steps(n: int) -> None:
    """Let the event loop run `n` steps (a request's miss, then its fetch's own task)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def _busy(directory: BandDirectory, store: GatedStore) -> list[asyncio.Task[BandRecord]]:
    """As many fetches running, each about an account of its own, as one directory runs at once."""
    running = []
    for n in range(FETCHES_AT_ONCE):
        running.append(asyncio.create_task(directory.get(f"busy-{n}")))
        await _steps(2)  # its fetch has begun: the next miss cannot join it
    assert len(store.fetched) == FETCHES_AT_ONCE
    return running


async def test_misses_for_many_accounts_while_fetches_run_wait_and_go_in_one_query(clock: FrozenClock) -> None:
    store = GatedStore()
    directory = BandDirectory(store, cache=SETTINGS, clock=clock)
    running = await _busy(directory, store)
    waiting = [asyncio.create_task(directory.get(f"cold-{n}")) for n in range(20)]
    for _ in range(3):
        await asyncio.sleep(0)
    assert len(store.fetched) == FETCHES_AT_ONCE  # nobody else runs a query meanwhile
    store.gate.set()
    records = await asyncio.gather(*running, *waiting)
    assert {r.band for r in records} == {AgeBand.ADULT}
    assert len(store.fetched) == FETCHES_AT_ONCE + 1
    assert sorted(store.fetched[-1]) == sorted(f"cold-{n}" for n in range(20))
    assert directory.cached("cold-7") is not None


async def test_a_waiting_fetch_everyone_left_never_runs(clock: FrozenClock) -> None:
    store = GatedStore()
    directory = BandDirectory(store, cache=SETTINGS, clock=clock)
    running = await _busy(directory, store)
    leavers = [asyncio.create_task(directory.get(f"cold-{n}")) for n in range(3)]
    await asyncio.sleep(0)
    for leaver in leavers:
        leaver.cancel()
    await asyncio.gather(*leavers, return_exceptions=True)
    newcomer = asyncio.create_task(directory.get("cold-0"))  # a fetch of its own, not the abandoned one
    store.gate.set()
    assert (await newcomer).band is AgeBand.ADULT
    await asyncio.gather(*running)
    assert store.fetched[FETCHES_AT_ONCE:] == [["cold-0"]]


async def test_a_miss_after_an_invalidation_does_not_join_the_waiting_fetch(clock: FrozenClock) -> None:
    store = GatedStore()
    directory = BandDirectory(store, cache=SETTINGS, clock=clock)
    running = await _busy(directory, store)
    before = asyncio.create_task(directory.get("kid"))
    await asyncio.sleep(0)
    await directory.forget(["kid"])
    after = asyncio.create_task(directory.get("kid"))
    await asyncio.sleep(0)
    store.gate.set()
    await asyncio.gather(*running, before, after)
    assert store.fetched[FETCHES_AT_ONCE:] == [["kid"], ["kid"]]
