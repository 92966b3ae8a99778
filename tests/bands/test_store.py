"""Band stores: our own table and the host app's table, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.bands.age import AgeBand, Assurance, BandRecord
from safe_accounts.bands.store import FETCH_CHUNK, HostBandStore, OwnBandStore, band_store_for
from safe_accounts.clock import FrozenClock
from safe_accounts.db.engine import make_engine
from safe_accounts.errors import ConfigurationError, StorageError
from safe_accounts.policy.model import HostBands, OwnBands

from .sql import statements

TABLE = "safe_accounts_age_bands"


def rec(
    account_id: str, band: AgeBand = AgeBand.ADULT, born: date | None = None, **kw
) -> BandRecord:  # type: ignore[no-untyped-def]
    return BandRecord(
        account_id,
        band,
        kw.get("assurance", Assurance.SELF_DECLARED),
        kw.get("source", "test"),
        born,
        1000.0,
    )


# --- our own table ------------------------------------------------------------------------


async def test_put_records_are_fetched_back_and_missing_ids_are_absent(engine: AsyncEngine) -> None:
    store = OwnBandStore(engine, clock=FrozenClock(datetime(2027, 1, 15, tzinfo=UTC)))
    await store.put(
        [rec("a"), rec("b", AgeBand.B13_15, date(2013, 3, 1), assurance=Assurance.VERIFIED)]
    )
    found = await store.fetch(["a", "b", "zzz"])
    assert set(found) == {"a", "b"}
    assert found["a"] == rec("a")
    assert found["b"] == rec("b", AgeBand.B13_15, date(2013, 3, 1), assurance=Assurance.VERIFIED)


async def test_put_replaces_an_accounts_record(engine: AsyncEngine) -> None:
    store = OwnBandStore(engine)
    await store.put([rec("a", AgeBand.B16_17, source="first")])
    await store.put([rec("a", AgeBand.ADULT, source="second")])
    assert (await store.fetch(["a"]))["a"].source == "second"


async def test_the_last_record_of_an_account_in_one_put_wins(engine: AsyncEngine) -> None:
    store = OwnBandStore(engine)
    await store.put([rec("a", AgeBand.B16_17), rec("a", AgeBand.UNDER_13)])
    assert (await store.fetch(["a"]))["a"].band is AgeBand.UNDER_13


async def test_a_stored_band_moves_on_with_the_calendar_without_a_write(
    engine: AsyncEngine,
) -> None:
    clock = FrozenClock(datetime(2027, 5, 31, 12, tzinfo=UTC))
    store = OwnBandStore(engine, clock=clock)
    await store.put([rec("teen", AgeBand.B16_17, date(2009, 6, 1))])
    assert (await store.fetch(["teen"]))["teen"].band is AgeBand.B16_17
    clock.advance(86_400)  # the 18th birthday
    now = (await store.fetch(["teen"]))["teen"]
    assert (now.band, now.birth_date) == (AgeBand.ADULT, None)


async def test_fifty_ids_are_one_round_trip(engine: AsyncEngine) -> None:
    store = OwnBandStore(engine)
    await store.put([rec(f"acct-{i}") for i in range(50)])
    with statements(engine, TABLE) as sql:
        found = await store.fetch([f"acct-{i}" for i in range(50)])
    assert len(found) == 50
    assert len(sql) == 1


async def test_huge_inputs_are_chunked(engine: AsyncEngine) -> None:
    store = OwnBandStore(engine)
    ids = [f"acct-{i}" for i in range(FETCH_CHUNK * 2 + 7)]
    await store.put([rec(i) for i in ids[::2]])
    with statements(engine, TABLE) as sql:
        found = await store.fetch(ids + ids[:10])  # duplicates are asked once
    assert set(found) == set(ids[::2])
    assert len(sql) == 3


async def test_an_unmigrated_database_is_a_storage_error(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(StorageError, match="reading age bands failed"):
            await OwnBandStore(engine).fetch(["a"])
    finally:
        await engine.dispose()


# --- the host app's table -----------------------------------------------------------------


@pytest.fixture
async def host_table(engine: AsyncEngine):  # type: ignore[no-untyped-def]
    """A host app's `users` table with integer ids and a birth date column."""
    name = f"host_users_{uuid.uuid4().hex[:8]}"
    async with engine.begin() as conn:
        await conn.exec_driver_sql(
            f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, born DATE, nick VARCHAR(20))"
        )
        await conn.exec_driver_sql(
            f"INSERT INTO {name} (id, born, nick) VALUES "
            "(1, '2014-06-01', 'kid'), (2, '1980-01-01', 'grown'), (7, NULL, 'silent'),"
            " (8, '2031-01-01', 'typo'), (9, '2010-02-03', 'teen')"
        )
    yield name
    async with engine.begin() as conn:
        await conn.exec_driver_sql(f"DROP TABLE {name}")


CLOCK = FrozenClock(datetime(2027, 1, 15, tzinfo=UTC))


async def test_host_bands_come_from_the_hosts_birth_dates(
    engine: AsyncEngine, host_table: str
) -> None:
    store = HostBandStore(engine, host_table, "id", "born", "verified", clock=CLOCK)
    found = await store.fetch(["1", "2", "9"])
    assert found == {
        "1": BandRecord(
            "1", AgeBand.UNDER_13, Assurance.VERIFIED, f"host:{host_table}", date(2014, 6, 1)
        ),
        "2": BandRecord("2", AgeBand.ADULT, Assurance.VERIFIED, f"host:{host_table}", None),
        "9": BandRecord(
            "9", AgeBand.B16_17, Assurance.VERIFIED, f"host:{host_table}", date(2010, 2, 3)
        ),
    }


async def test_host_ids_are_compared_as_text(engine: AsyncEngine, host_table: str) -> None:
    store = HostBandStore(engine, host_table, "id", "born", clock=CLOCK)
    found = await store.fetch(["1", "007", "01", "x", "1.0", "999"])
    assert set(found) == {"1"}


async def test_host_rows_without_a_usable_birth_date_are_accounts_of_unknown_age(
    engine: AsyncEngine, host_table: str
) -> None:
    store = HostBandStore(engine, host_table, "id", "born", clock=CLOCK)
    found = await store.fetch(["7", "8", "999"])
    source = f"host:{host_table}"
    assert found == {
        "7": BandRecord("7", AgeBand.UNKNOWN, Assurance.SELF_DECLARED, source),
        "8": BandRecord("8", AgeBand.UNKNOWN, Assurance.SELF_DECLARED, source),
    }
    assert all(record.exists for record in found.values()), "a row is an account, whatever its age"


async def test_a_host_table_with_text_ids_works_too(engine: AsyncEngine) -> None:
    name = f"host_profiles_{uuid.uuid4().hex[:8]}"
    async with engine.begin() as conn:
        await conn.exec_driver_sql(f"CREATE TABLE {name} (uid VARCHAR(40) PRIMARY KEY, dob DATE)")
        await conn.exec_driver_sql(
            f"INSERT INTO {name} VALUES ('u-1', '2012-01-01'), ('007', '1990-01-01')"
        )
    try:
        store = HostBandStore(engine, name, "uid", "dob", clock=CLOCK)
        found = await store.fetch(["u-1", "007", "7"])
        assert {k: v.band for k, v in found.items()} == {
            "u-1": AgeBand.B13_15,
            "007": AgeBand.ADULT,
        }
    finally:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f"DROP TABLE {name}")


@pytest.mark.postgres
async def test_a_host_table_with_uuid_ids_works_on_postgresql(postgres_database: str) -> None:
    engine = make_engine(postgres_database)  # SQLite has no UUID column type
    name = f"host_members_{uuid.uuid4().hex[:8]}"
    member = "6f1c1a52-3f0e-4d4b-9d1e-2b7a0c9e5f11"
    async with engine.begin() as conn:
        await conn.exec_driver_sql(f"CREATE TABLE {name} (id UUID PRIMARY KEY, born DATE)")
        await conn.exec_driver_sql(f"INSERT INTO {name} VALUES ('{member}', '2011-09-09')")
    try:
        store = HostBandStore(engine, name, "id", "born", clock=CLOCK)
        found = await store.fetch([member, member.upper(), "not-a-uuid"])
        assert {k: v.band for k, v in found.items()} == {member: AgeBand.B13_15}
    finally:
        async with engine.begin() as conn:
            await conn.exec_driver_sql(f"DROP TABLE {name}")
        await engine.dispose()


async def test_a_schema_qualified_host_table_is_accepted(
    engine: AsyncEngine, host_table: str
) -> None:
    schema = "public" if engine.dialect.name == "postgresql" else "main"
    store = HostBandStore(engine, f"{schema}.{host_table}", "id", "born", clock=CLOCK)
    assert set(await store.fetch(["1", "2"])) == {"1", "2"}


async def test_fifty_host_ids_are_one_round_trip(engine: AsyncEngine, host_table: str) -> None:
    store = HostBandStore(engine, host_table, "id", "born", clock=CLOCK)
    await store.fetch(["1"])  # the first use looks at the table's columns once
    with statements(engine, host_table) as sql:
        await store.fetch([str(i) for i in range(50)])
    assert len(sql) == 1


@pytest.mark.parametrize(
    ("table", "id_column", "birth_column", "named"),
    [
        ("users; DROP TABLE users", "id", "born", "table"),
        ("a.b.c", "id", "born", "table"),
        ("users", "1id", "born", "id_column"),
        ("users", "id", 'born"', "birth_date_column"),
        ("users", "id", "", "birth_date_column"),
        ("x" * 64, "id", "born", "table"),
    ],
)
def test_identifiers_that_are_not_plain_sql_names_are_refused(
    table: str, id_column: str, birth_column: str, named: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"bands.store.{named}"):
        HostBandStore(None, table, id_column, birth_column)  # type: ignore[arg-type]


async def test_a_missing_host_column_is_named(engine: AsyncEngine, host_table: str) -> None:
    store = HostBandStore(engine, host_table, "id", "birthday")
    with pytest.raises(ConfigurationError, match=r"'birthday' is not a column .* born, id, nick"):
        await store.fetch(["1"])


async def test_host_bands_cannot_be_written(engine: AsyncEngine, host_table: str) -> None:
    store = HostBandStore(engine, host_table, "id", "born")
    with pytest.raises(ConfigurationError, match="come from the host's column"):
        await store.put([rec("1")])


async def test_the_configured_source_picks_the_store(engine: AsyncEngine) -> None:
    assert isinstance(band_store_for(engine, OwnBands()), OwnBandStore)
    host = band_store_for(
        engine, HostBands(source="host", table="users", id_column="id", birth_date_column="born")
    )
    assert isinstance(host, HostBandStore)
    assert host.source == "host:users"
