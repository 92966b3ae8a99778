"""Who is connected to whom, read from the host app's own tables behind a short cache."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.clock import FrozenClock
from safe_accounts.errors import StorageError
from safe_accounts.policy import model
from safe_accounts.relations import RelationshipDirectory

FRIENDS = [("ann", "bob"), ("ann", "cat"), ("bob", "cat"), ("dan", "cat")]

CONNECTED = "SELECT friend_id FROM friendships WHERE user_id = :actor AND friend_id IN :targets"
MUTUAL = (
    "SELECT COUNT(*) FROM friendships a JOIN friendships b ON a.friend_id = b.friend_id "
    "WHERE a.user_id = :actor AND b.user_id = :target"
)


@pytest.fixture
async def host(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """The host app's friendships table, both directions written, as apps usually keep it."""
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS friendships"))
        await conn.execute(text("CREATE TABLE friendships (user_id VARCHAR(64), friend_id VARCHAR(64))"))
        rows = [{"u": a, "f": b} for a, b in FRIENDS] + [{"u": b, "f": a} for a, b in FRIENDS]
        await conn.execute(text("INSERT INTO friendships VALUES (:u, :f)"), rows)
    yield engine
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE friendships"))


def directory(engine: AsyncEngine | None, clock: FrozenClock, **config: object) -> RelationshipDirectory:
    settings = model.Relationships.model_validate(
        {"connected": {"sql": CONNECTED}, "mutual_count": {"sql": MUTUAL}, "cache_seconds": 30, **config}
    )
    return RelationshipDirectory(settings, engine, clock=clock)


async def test_connections_among_many_accounts_come_from_the_host_tables(host: AsyncEngine) -> None:
    relationships = directory(host, FrozenClock())
    assert await relationships.connected_among("ann", ["bob", "cat", "dan"]) == {"bob", "cat"}


async def test_mutual_connections_are_counted_in_the_host_tables(host: AsyncEngine) -> None:
    relationships = directory(host, FrozenClock())
    assert await relationships.mutual("ann", "dan") == 1  # cat
    assert await relationships.mutual("ann", "bob") == 1  # cat


async def test_answers_are_cached_both_ways_for_the_configured_time(host: AsyncEngine) -> None:
    clock = FrozenClock()
    relationships = directory(host, clock)
    await relationships.connected_among("ann", ["bob", "dan"])
    await relationships.mutual("ann", "dan")
    assert relationships.cached_connected("ann", "bob") is True
    assert relationships.cached_connected("bob", "ann") is True  # connections are symmetric
    assert relationships.cached_connected("dan", "ann") is False
    assert relationships.cached_mutual("dan", "ann") == 1
    clock.advance(31)
    assert relationships.cached_connected("ann", "bob") is None
    assert relationships.cached_mutual("ann", "dan") is None


async def test_a_changed_connection_is_read_again_once_forgotten(host: AsyncEngine) -> None:
    relationships = directory(host, FrozenClock())
    assert await relationships.connected_among("ann", ["bob"]) == {"bob"}
    async with host.begin() as conn:
        await conn.execute(
            text("DELETE FROM friendships WHERE user_id IN ('ann', 'bob') AND friend_id IN ('ann', 'bob')")
        )
    assert await relationships.connected_among("ann", ["bob"]) == {"bob"}  # still cached
    relationships.forget("bob")
    assert await relationships.connected_among("ann", ["bob"]) == frozenset()


async def test_without_a_source_nobody_is_connected_and_nobody_shares_connections() -> None:
    relationships = RelationshipDirectory(model.Relationships(), None, clock=FrozenClock())
    assert await relationships.connected_among("ann", ["bob"]) == frozenset()
    assert await relationships.mutual("ann", "bob") == 0


async def test_a_failing_host_query_is_a_storage_error(host: AsyncEngine) -> None:
    relationships = directory(
        host, FrozenClock(), connected={"sql": "SELECT nope FROM no_such_table WHERE :actor = :actor AND 1 IN :targets"}
    )
    with pytest.raises(StorageError):
        await relationships.connected_among("ann", ["bob"])
