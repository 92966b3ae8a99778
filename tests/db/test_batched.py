"""A table written in batches: nothing on the response path, nothing lost while SQL is down,
one INSERT per batch; and the few rows that must be written before their caller goes on."""

from __future__ import annotations

import asyncio
import gc

import orjson
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.db.bulk_insert import BulkInsert, bounded
from safe_accounts.db.engine import make_engine, writer_engine
from safe_accounts.decisions.log import DecisionLog, DecisionRow
from safe_accounts.decisions.table import decision_log
from tests.db.roundtrips import count_round_trips


def row(n: int) -> DecisionRow:
    return DecisionRow(
        id=f"d{n}", at=1_800_000_000.0 + n, action="direct_message", rule="r", policy_version="v",
        mode="enforce", outcome="deny", status=403, actor_id="a", actor_band="adult",
        target_id="t", target_band="13_15", route="dm",
    )


async def returns(log: DecisionLog, engine: AsyncEngine) -> None:
    """The database "returns": the same queue, written with a working engine."""
    await log.inserts.engine.dispose()
    log._engine, log.inserts = engine, BulkInsert(writer_engine(engine), decision_log)  # noqa: SLF001


async def test_rows_queued_while_the_database_is_down_are_written_when_it_returns(
    engine: AsyncEngine, database_url: str
) -> None:
    log = DecisionLog(make_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none"))
    for n in range(3):
        log.record(row(n))
    assert await log.flush() == 0
    assert log.health()["queued"] == 3 and log.health()["last_error"] is not None
    await returns(log, engine)
    assert await log.flush() == 3
    async with engine.connect() as conn:
        ids = sorted((await conn.execute(select(decision_log.c.id))).scalars())
    assert ids == ["d0", "d1", "d2"]
    await log.close()


async def test_a_batch_written_again_after_its_commit_went_unacknowledged_is_on_the_record_once(
    engine: AsyncEngine,
) -> None:
    # The first attempt committed, then the connection died before the commit was
    # acknowledged: the rows are in the table and still queued, so the writer sends them again.
    async with engine.begin() as conn:
        await conn.execute(decision_log.insert(), [row(n)._asdict() for n in range(2)])
    log = DecisionLog(engine)
    for n in range(3):
        log.record(row(n))
    assert await log.flush() == 3
    assert log.health()["queued"] == 0 and log.health()["last_error"] is None
    assert await _ids(engine) == ["d0", "d1", "d2"]
    await log.close()


async def test_beyond_its_limit_the_oldest_rows_are_dropped_and_counted(engine: AsyncEngine) -> None:
    log = DecisionLog(engine, limit=2)
    for n in range(5):
        log.record(row(n))
    assert log.health()["dropped"] == 3
    await log.close()
    async with engine.connect() as conn:
        ids = sorted((await conn.execute(select(decision_log.c.id))).scalars())
    assert ids == ["d3", "d4"]


async def _ids(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return sorted((await conn.execute(select(decision_log.c.id))).scalars())


async def test_a_batch_of_five_hundred_rows_is_one_insert(engine: AsyncEngine) -> None:
    log = DecisionLog(engine)
    for n in range(500):
        log.record(row(n))
    assert await log.flush() == 500
    assert log.inserts.statements == 1  # one executemany: on PostgreSQL one pipeline (next test)
    await log.close()


@pytest.mark.postgres
async def test_on_postgresql_a_batch_is_one_round_trip_for_its_rows(postgres_database: str) -> None:
    engine = make_engine(postgres_database)
    log = DecisionLog(engine)
    sent = count_round_trips(log.inserts.engine)
    try:
        # Statements are prepared once per connection, then cached: the first round warms.
        for turn, size in enumerate((1, 500, 1, 500)):
            for n in range(size):
                log.record(row(turn * 1000 + n))
            sent.clear()
            assert await log.flush() == size
            if turn < 2:
                continue
            # The rows in one request (asyncpg pipelines an executemany, atomic by itself):
            # no check of the connection, no BEGIN, no COMMIT.
            assert sent == ["bind_execute_many"], sent
    finally:
        await log.close()
        async with engine.begin() as conn:
            await conn.execute(decision_log.delete())
        await engine.dispose()


@pytest.mark.postgres
async def test_a_batch_sent_on_a_connection_the_server_dropped_stays_queued_and_the_next_write_reconnects(
    postgres_database: str,
) -> None:
    engine = make_engine(postgres_database)
    log = DecisionLog(engine)
    try:
        log.record(row(1))
        assert await log.flush() == 1  # the writer's connection is open, and held
        async with engine.connect() as conn:
            # The timeout makes each call wait until its backend has exited, so the drop is over
            # before the next batch, not racing it: a drop in the middle of an executemany is
            # asyncpg's to survive (0.29 raises from its own callback there), not the log's.
            await conn.execute(text(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ))
        for _ in range(3):  # the loop reads the server's goodbye and the closed socket
            await asyncio.sleep(0)
        log.record(row(2))
        assert await log.flush() == 0
        assert log.health()["queued"] == 1 and log.health()["last_error"] is not None
        assert await log.flush() == 1  # on a new connection
        assert await _ids(engine) == ["d1", "d2"]
    finally:
        await log.close()
        async with engine.begin() as conn:
            await conn.execute(decision_log.delete())
        await engine.dispose()


async def test_a_lists_row_keeps_every_account_it_names(engine: AsyncEngine) -> None:
    log = DecisionLog(engine)
    log.record(row(1)._replace(affected=2, targets=[["7", "13_15"], ["8", "under_13"]]))
    assert await log.flush() == 1
    async with engine.connect() as conn:
        found = (await conn.execute(select(decision_log.c.affected, decision_log.c.targets))).one()
    assert tuple(found) == (2, [["7", "13_15"], ["8", "under_13"]])
    await log.close()


async def test_a_lists_row_waits_for_the_writer_as_json_text_no_collector_tracks(engine: AsyncEngine) -> None:
    # Held as a list per account until the next batch, a page's row outlived young garbage
    # collections and brought on full ones; as the bytes of its JSON it is nothing the
    # collector sees.
    log = DecisionLog(engine)
    accounts = [["7", "13_15"], ["8", "under_13"], ["zoë", "16_17"]]
    log.record(row(1)._replace(affected=3, targets=accounts))
    [queued] = log._queue  # noqa: SLF001 - what waits for the writer
    assert type(queued["targets"]) is bytes and not gc.is_tracked(queued["targets"])
    assert orjson.loads(queued["targets"]) == accounts
    assert await log.flush() == 1
    async with engine.connect() as conn:
        found = (await conn.execute(select(decision_log.c.targets))).scalar_one()
    assert found == accounts  # written as JSON once, not as a JSON string of it
    await log.close()


async def test_rows_written_now_are_committed_before_the_caller_goes_on(engine: AsyncEngine) -> None:
    log = DecisionLog(engine, interval=3600)  # the background writer would not come for an hour
    await log.start()
    try:
        assert await log.record_before_answer([row(1), row(2)], within=5)
        assert await _ids(engine) == ["d1", "d2"]
        assert log.health()["queued"] == 0 and log.health()["answered_unwritten"] == 0
    finally:
        await log.close()
    assert await _ids(engine) == ["d1", "d2"]  # and never twice


async def test_callers_writing_at_once_share_one_insert(engine: AsyncEngine) -> None:
    log = DecisionLog(engine, interval=3600)
    written = await asyncio.gather(*(log.record_before_answer([row(n)], within=5) for n in range(20)))
    assert written == [True] * 20
    assert log.inserts.statements == 1
    assert len(await _ids(engine)) == 20
    await log.close()


async def test_a_write_that_overruns_its_deadline_is_queued_counted_and_written_once(engine: AsyncEngine) -> None:
    log = DecisionLog(engine, interval=3600)
    assert not await log.record_before_answer([row(1)], within=0)
    assert log.health()["answered_unwritten"] == 1
    await log.close()  # the write it stopped waiting for was not cancelled
    assert await _ids(engine) == ["d1"]


async def test_while_the_database_is_down_rows_written_now_are_queued_without_trying_again(
    engine: AsyncEngine,
) -> None:
    down = make_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    log = DecisionLog(down, interval=3600)
    assert not await log.record_before_answer([row(1)], within=5)
    assert log.health()["last_error"] is not None
    await down.dispose()
    await returns(log, engine)  # the database is back; no write has succeeded yet
    # The last write failed: the caller is not made to wait for another attempt.
    assert not await log.record_before_answer([row(2)], within=5)
    assert await _ids(engine) == []
    assert log.health()["queued"] == 2 and log.health()["answered_unwritten"] == 2
    assert await log.flush() == 2  # the background writer's next write succeeds ...
    assert await log.record_before_answer([row(3)], within=5)  # ... and rows are written first again
    assert await _ids(engine) == ["d1", "d2", "d3"]
    await log.close()


# --- values the database will not take ------------------------------------------------------


async def test_an_id_longer_than_its_column_is_written_bounded_and_distinct_ids_stay_distinct(
    engine: AsyncEngine,
) -> None:
    # An app may list an account id of any length; PostgreSQL refuses a value longer than
    # its column, and a row that can never be written would hold every row behind it.
    log = DecisionLog(engine)
    long_ones = ["x" * 300, "x" * 299 + "y"]
    for n, target in enumerate(long_ones):
        log.record(row(n)._replace(target_id=target, actor_id=target))
    log.record(row(2))
    assert await log.flush() == 3
    async with engine.connect() as conn:
        stored = (await conn.execute(select(decision_log.c.target_id).order_by(decision_log.c.id))).scalars().all()
    assert stored[:2] == [bounded(t, 255) for t in long_ones]
    assert all(len(s) == 255 for s in stored[:2]) and stored[0] != stored[1]
    assert stored[2] == "t"
    assert bounded("x" * 300, 255) == bounded("x" * 300, 255)  # the same id reads the same
    assert log.health()["rejected"] == 0
    await log.close()


async def test_a_row_the_database_refuses_is_set_aside_counted_and_the_rows_around_it_are_written(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    log = DecisionLog(engine)
    log.record(row(0))
    log.record(row(1)._replace(rule=None))  # type: ignore[arg-type]  # NOT NULL: never writable
    log.record(row(2))
    assert await log.flush() == 2
    assert await _ids(engine) == ["d0", "d2"]
    health = log.health()
    assert health["queued"] == 0 and health["rejected"] == 1 and health["last_error"] is None
    assert "row d1 refused by the database" in caplog.text
    # The queue is not held: what comes next is written as usual.
    log.record(row(3))
    assert await log.flush() == 1
    await log.close()


async def test_a_refusal_whose_row_the_database_refuses_is_not_said_to_be_written(engine: AsyncEngine) -> None:
    log = DecisionLog(engine)
    written = await log.record_before_answer([row(0)._replace(rule=None)], within=5.0)  # type: ignore[arg-type]
    assert written is False
    assert log.health()["rejected"] == 1 and log.health()["answered_unwritten"] == 1
    await log.close()
