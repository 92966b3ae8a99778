"""BandDirectory: what the middleware asks. Cache first, one query for all misses."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.bands import BandDirectory, HostBandStore, OwnBandStore
from safe_accounts.bands.age import AgeBand, Assurance
from safe_accounts.clock import FrozenClock
from safe_accounts.errors import ConfigurationError, InvalidBand
from safe_accounts.policy.model import BandCacheSettings

from .sql import statements

TABLE = "safe_accounts_age_bands"
SETTINGS = BandCacheSettings(size=1000, ttl_seconds=300)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2027, 1, 15, 12, tzinfo=UTC))


@pytest.fixture
def directory(engine: AsyncEngine, clock: FrozenClock) -> BandDirectory:
    return BandDirectory(OwnBandStore(engine, clock=clock), cache=SETTINGS, clock=clock)


async def test_an_account_without_a_record_is_unknown_and_cached(
    engine: AsyncEngine, directory: BandDirectory
) -> None:
    assert directory.cached("nobody") is None
    record = await directory.get("nobody")
    assert (record.account_id, record.band) == ("nobody", AgeBand.UNKNOWN)
    with statements(engine, TABLE) as sql:
        assert (await directory.get("nobody")).band is AgeBand.UNKNOWN
        assert directory.cached("nobody").band is AgeBand.UNKNOWN  # type: ignore[union-attr]
    assert sql == []


async def test_set_writes_the_store_and_the_local_cache(
    engine: AsyncEngine, directory: BandDirectory, clock: FrozenClock
) -> None:
    made = await directory.set("kid", birth_date=date(2015, 4, 1), assurance=Assurance.ESTIMATED)
    assert (made.band, made.assurance, made.source, made.changed_at) == (
        AgeBand.UNDER_13,
        Assurance.ESTIMATED,
        "api",
        clock.now(),
    )
    assert directory.cached("kid") == made
    fresh = BandDirectory(OwnBandStore(engine, clock=clock), cache=SETTINGS, clock=clock)
    assert await fresh.get("kid") == made


async def test_set_replaces_a_cached_unknown(directory: BandDirectory) -> None:
    assert (await directory.get("late")).band is AgeBand.UNKNOWN
    await directory.set("late", band=AgeBand.B16_17)
    assert (await directory.get("late")).band is AgeBand.B16_17


async def test_an_adult_birth_date_is_not_stored(
    engine: AsyncEngine, directory: BandDirectory
) -> None:
    await directory.set("grown", birth_date=date(1980, 1, 1))
    async with engine.connect() as conn:
        row = (await conn.exec_driver_sql(f"SELECT band, birth_date FROM {TABLE}")).one()
    assert tuple(row) == ("adult", None)


async def test_a_refused_change_writes_nothing(
    engine: AsyncEngine, directory: BandDirectory
) -> None:
    with pytest.raises(InvalidBand):
        await directory.set("kid", birth_date=date(2031, 1, 1))
    async with engine.connect() as conn:
        assert (await conn.exec_driver_sql(f"SELECT count(*) FROM {TABLE}")).scalar() == 0
    assert directory.cached("kid") is None


async def test_get_many_answers_every_id_with_all_misses_in_one_query(
    engine: AsyncEngine, directory: BandDirectory
) -> None:
    for i in range(5):
        await directory.set(f"known-{i}", band=AgeBand.ADULT)
    directory_cold = BandDirectory(directory.store, cache=SETTINGS)
    ids = [f"known-{i}" for i in range(5)] + [f"unknown-{i}" for i in range(45)]
    with statements(engine, TABLE) as sql:
        found = await directory_cold.get_many(ids + ids[:3])
    assert list(found) == ids
    assert [found[i].band for i in ids] == [AgeBand.ADULT] * 5 + [AgeBand.UNKNOWN] * 45
    assert len(sql) == 1

    with statements(engine, TABLE) as sql:
        again = await directory_cold.get_many(reversed(ids))
        single = await directory_cold.get("unknown-7")
    assert again == found and single == found["unknown-7"]
    assert sql == [], "cache hits cost no SQL"


class RecordingStore(OwnBandStore):
    """Our real store, remembering which ids each fetch asked for."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.asked: list[list[str]] = []

    async def fetch(self, ids):  # type: ignore[no-untyped-def]
        self.asked.append(list(ids))
        return await super().fetch(ids)


async def test_only_the_misses_are_fetched(engine: AsyncEngine, clock: FrozenClock) -> None:
    store = RecordingStore(engine, clock=clock)
    directory = BandDirectory(store, cache=SETTINGS, clock=clock)
    await directory.set("a", band=AgeBand.ADULT)
    await directory.get("b")
    found = await directory.get_many(["a", "b", "c", "d", "c"])
    assert set(found) == {"a", "b", "c", "d"}
    assert store.asked == [["b"], ["c", "d"]]


async def test_cached_entries_expire_after_the_ttl(
    engine: AsyncEngine, directory: BandDirectory, clock: FrozenClock
) -> None:
    assert (await directory.get("x")).band is AgeBand.UNKNOWN
    # Written behind this directory's back (another process without Redis).
    other = BandDirectory(OwnBandStore(engine, clock=clock), cache=SETTINGS, clock=clock)
    await other.set("x", band=AgeBand.UNDER_13)
    assert (await directory.get("x")).band is AgeBand.UNKNOWN
    clock.advance(SETTINGS.ttl_seconds)
    assert directory.cached("x") is None
    assert (await directory.get("x")).band is AgeBand.UNDER_13


async def test_a_cached_minor_becomes_an_adult_on_their_birthday(
    directory: BandDirectory, clock: FrozenClock
) -> None:
    clock.set(datetime(2027, 1, 15, 23, 59, tzinfo=UTC))
    await directory.set("teen", birth_date=date(2009, 1, 16))
    assert directory.cached("teen").band is AgeBand.B16_17  # type: ignore[union-attr]
    clock.set(datetime(2027, 1, 16, 0, 0, tzinfo=UTC))  # within the TTL
    assert directory.cached("teen").band is AgeBand.ADULT  # type: ignore[union-attr]


async def test_a_band_without_a_date_stays_until_changed(
    directory: BandDirectory, clock: FrozenClock
) -> None:
    await directory.set("declared", band=AgeBand.B13_15)
    clock.advance(10 * 365 * 86_400)
    assert (await directory.get("declared")).band is AgeBand.B13_15


async def test_a_host_directory_refuses_writes(engine: AsyncEngine) -> None:
    directory = BandDirectory(HostBandStore(engine, "users", "id", "born"), cache=SETTINGS)
    with pytest.raises(ConfigurationError, match="host"):
        await directory.set("1", band=AgeBand.ADULT)


async def test_without_redis_start_and_close_are_harmless(directory: BandDirectory) -> None:
    await directory.start()
    assert directory.subscribed is False
    await directory.close()


class ChangedDuringFetch(OwnBandStore):
    """Our real store, during whose read a change to the account arrives."""

    directory: BandDirectory

    async def fetch(self, ids):  # type: ignore[no-untyped-def]
        found = await super().fetch(ids)
        await self.directory.forget(list(ids))  # as an invalidation from another process would
        return found


async def test_a_read_that_raced_a_change_is_answered_but_not_cached(
    engine: AsyncEngine, clock: FrozenClock
) -> None:
    store = ChangedDuringFetch(engine, clock=clock)
    directory = store.directory = BandDirectory(store, cache=SETTINGS, clock=clock)
    assert (await directory.get("kid")).band is AgeBand.UNKNOWN
    assert directory.cached("kid") is None, "what was read may already be stale"
