"""The PostgreSQL engine checks a pooled connection before use only when it sat idle: one
back from use a moment ago goes straight to its query."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.db import engine as engine_module
from safe_accounts.db.engine import make_engine
from tests.db.roundtrips import count_round_trips

pytestmark = pytest.mark.postgres


@pytest.fixture
async def one_connection(postgres_database: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(postgres_database, pool_size=1, max_overflow=0).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    yield engine
    await engine.dispose()


async def _backend(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(postgres_database: str, pid: int) -> None:
    """Ends the backend and waits until it is gone (up to 5 s)."""
    admin = make_engine(postgres_database, pool_size=1, max_overflow=0)
    try:
        async with admin.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
    finally:
        await admin.dispose()


async def test_a_connection_back_from_use_a_moment_ago_is_not_pinged(
    one_connection: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE", 3600.0)
    sent = count_round_trips(one_connection)
    await _backend(one_connection)  # opens the connection: just opened, it is not pinged either
    first = len(sent)
    await _backend(one_connection)
    assert sent[first:] == ["bind_execute"]  # the query's (its statement prepared the first time), no ping


async def test_a_connection_idle_for_longer_is_pinged_before_use(
    one_connection: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE", 3600.0)
    sent = count_round_trips(one_connection)
    await _backend(one_connection)
    query = len(sent)
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE", 0.0)
    await _backend(one_connection)
    assert sent[query:][-1:] == ["bind_execute"] and len(sent) - query > 1  # the ping's requests, then the query


async def test_a_connection_the_server_dropped_while_idle_is_replaced_not_failed(
    postgres_database: str, one_connection: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE", 0.0)
    before = await _backend(one_connection)
    await _terminate(postgres_database, before)
    assert await _backend(one_connection) != before


async def test_one_dropped_within_the_idle_time_fails_one_query_and_the_pool_replaces_it(
    postgres_database: str, one_connection: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE", 3600.0)
    before = await _backend(one_connection)
    await _terminate(postgres_database, before)
    with pytest.raises(DBAPIError):
        await _backend(one_connection)
    assert await _backend(one_connection) != before
