"""Relationship lookups under contention: concurrent misses for one pair make one query, and
"not connected" and "no mutual connection" are cached and forgotten like any other answer."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.clock import FrozenClock
from safe_accounts.policy import model
from safe_accounts.relations import RelationshipDirectory
from tests.bands.sql import statements

from .test_relationships import CONNECTED, MUTUAL, directory, host  # noqa: F401 - the host tables fixture

TABLE = "friendships"


async def test_twenty_concurrent_misses_on_one_pair_make_one_connected_query(host: AsyncEngine) -> None:  # noqa: F811
    relationships = directory(host, FrozenClock())
    with statements(host, TABLE) as sql:
        answers = await asyncio.gather(*(relationships.connected_among("ann", ["bob"]) for _ in range(20)))
    assert len(sql) == 1
    assert set(answers) == {frozenset({"bob"})}


async def test_twenty_concurrent_misses_on_one_pair_make_one_mutual_count_query(host: AsyncEngine) -> None:  # noqa: F811
    relationships = directory(host, FrozenClock())
    with statements(host, TABLE) as sql:
        counts = await asyncio.gather(*(relationships.mutual("ann", "dan") for _ in range(20)))
    assert len(sql) == 1
    assert set(counts) == {1}


async def test_concurrent_pages_of_one_viewer_query_only_what_is_not_already_in_flight(host: AsyncEngine) -> None:  # noqa: F811
    relationships = directory(host, FrozenClock())
    with statements(host, TABLE) as sql:
        first, second = await asyncio.gather(
            relationships.connected_among("ann", ["bob", "dan"]),
            relationships.connected_among("ann", ["dan", "bob", "cat"]),
        )
    assert len(sql) == 2  # the first page's two accounts, then "cat" alone
    assert (first, second) == ({"bob"}, {"bob", "cat"})


async def test_not_connected_and_no_mutual_connection_are_cached_like_any_answer(host: AsyncEngine) -> None:  # noqa: F811
    clock = FrozenClock()
    relationships = directory(host, clock)
    assert await relationships.connected_among("bob", ["dan"]) == frozenset()
    assert await relationships.mutual("ann", "eve") == 0
    with statements(host, TABLE) as sql:
        assert await relationships.connected_among("bob", ["dan"]) == frozenset()
        assert await relationships.mutual("eve", "ann") == 0
    assert sql == []
    assert relationships.cached_connected("dan", "bob") is False
    assert relationships.cached_mutual("ann", "eve") == 0
    clock.advance(31)  # past `cache_seconds`, as any answer
    assert relationships.cached_connected("bob", "dan") is None
    assert relationships.cached_mutual("ann", "eve") is None


async def test_a_friendship_made_through_another_worker_drops_the_cached_not_connected(
    host: AsyncEngine, redis_url: str, redis_prefix: str  # noqa: F811
) -> None:
    client = aioredis.Redis.from_url(redis_url)
    settings = model.Relationships.model_validate(
        {"connected": {"sql": CONNECTED}, "mutual_count": {"sql": MUTUAL}, "cache_seconds": 30}
    )
    here, there = (
        RelationshipDirectory(settings, host, clock=FrozenClock(), redis=client, channel_prefix=redis_prefix)
        for _ in range(2)
    )
    await here.start()
    await there.start()
    try:
        assert await here.connected_among("bob", ["dan"]) == frozenset()
        assert await here.mutual("bob", "eve") == 0
        async with host.begin() as conn:
            await conn.execute(text("INSERT INTO friendships VALUES ('bob', 'dan'), ('dan', 'bob')"))
            await conn.execute(text("INSERT INTO friendships VALUES ('eve', 'dan'), ('dan', 'eve')"))
        # What the middleware does once the app accepted a contact request.
        assert await there.forget_everywhere(["bob", "dan"]) is True
        assert here.cached_connected("bob", "dan") is None
        assert await here.connected_among("bob", ["dan"]) == {"dan"}
        assert here.cached_mutual("bob", "eve") is None
        assert await here.mutual("bob", "eve") == 1
    finally:
        await here.close()
        await there.close()
        await client.aclose()
