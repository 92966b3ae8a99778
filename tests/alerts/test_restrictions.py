"""Restrictions: a sync lookup on the request path, kept current across workers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.alerts import Restrictions
from safe_accounts.alerts.tables import restrictions as restrictions_table
from safe_accounts.clock import FrozenClock

DEADLINE = 5.0  # generous: the pub/sub path takes milliseconds; this only bounds a failure


async def eventually(condition: Callable[[], bool]) -> None:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + DEADLINE
    while not condition():
        if loop.time() > give_up:
            raise AssertionError("the change did not arrive")
        await asyncio.sleep(0.01)


async def test_restrictions_are_loaded_from_sql_at_start(engine: AsyncEngine) -> None:
    first = Restrictions(engine)
    await first.start()
    await first.restrict("adult-1", reason="r")
    await first.restrict("adult-2", reason="r")
    await first.lift("adult-2", by="moderator-7", note="false positive")
    await first.close()
    second = Restrictions(engine)
    await second.start()
    try:
        assert second.active == {"adult-1"}
    finally:
        await second.close()


async def test_lifting_records_who_and_why(engine: AsyncEngine) -> None:
    held = Restrictions(engine)
    await held.start()
    try:
        await held.restrict("adult-1", reason="alert", by="system")
        await held.lift("adult-1", by="moderator-7", note="spoke to the user")
        assert not held.is_restricted("adult-1")
    finally:
        await held.close()
    async with engine.connect() as conn:
        (row,) = (await conn.execute(restrictions_table.select())).mappings().all()
    assert (row["created_by"], row["lifted_by"], row["lift_note"]) == ("system", "moderator-7", "spoke to the user")
    assert row["lifted_at"] is not None


@pytest.mark.redis
async def test_a_restriction_reaches_another_worker_through_pubsub(
    engine: AsyncEngine, redis_url: str, redis_prefix: str
) -> None:
    # A long SQL refresh interval: only pub/sub can deliver the change in time.
    workers = [
        Restrictions(engine, redis_url=redis_url, prefix=redis_prefix, refresh_interval=3600) for _ in range(2)
    ]
    for w in workers:
        await w.start()
    try:
        here, there = workers
        await here.restrict("adult-1", reason="grooming alert", alert_id=None)
        await eventually(lambda: there.is_restricted("adult-1"))
        await there.lift("adult-1", by="moderator-7")
        await eventually(lambda: not here.is_restricted("adult-1"))
        assert not there.is_restricted("adult-1")
    finally:
        for w in workers:
            await w.close()


async def test_without_redis_the_sql_refresh_catches_up(engine: AsyncEngine) -> None:
    here, there = Restrictions(engine), Restrictions(engine, refresh_interval=3600)
    await here.start()
    await there.start()
    try:
        await here.restrict("adult-1", reason="r")
        assert not there.is_restricted("adult-1")  # no pub/sub: not yet
        await there.refresh()
        assert there.is_restricted("adult-1")
    finally:
        await here.close()
        await there.close()


async def test_a_full_reload_that_raced_a_restriction_does_not_undo_it(engine: AsyncEngine) -> None:
    restrictions = Restrictions(engine, clock=FrozenClock(1_800_000_000))
    reload = asyncio.create_task(restrictions.refresh())
    await asyncio.sleep(0)  # the reload's query is under way ...
    await restrictions.announce("groomer", restricted=True)  # ... when a restriction lands
    await reload
    assert restrictions.is_restricted("groomer")
