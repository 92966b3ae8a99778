"""A lookup cancelled at any moment gives its connection back to the pool.

A lookup is cancelled when its request's time budget runs out, or when the last request
waiting for a shared fetch gives up (`_singleflight.py`). Cancelled while it was giving its
connection back, or just as its checkout ended, it used to leave the connection checked out
for ever: under load the pool ran dry (with aiosqlite, "QueuePool limit ... reached" for
every later lookup) and the garbage collector later complained of each one. Each test holds
the lookup at one moment with a gate, cancels it there, and then looks at the pool.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from safe_accounts.db import pool as pool_module
from safe_accounts.db.engine import make_engine
from safe_accounts.db.pool import connection, settle

_CHECKED_OUT: weakref.WeakKeyDictionary[AsyncEngine, set[int]] = weakref.WeakKeyDictionary()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url, pool_size=2, max_overflow=0)
    out = _CHECKED_OUT[engine] = set()  # counted by events: any kind of pool (2.0 gives aiosqlite none)
    event.listen(engine.sync_engine.pool, "checkout", lambda _c, record, _p: out.add(id(record)))
    event.listen(engine.sync_engine.pool, "checkin", lambda _c, record: out.discard(id(record)))
    yield engine
    await settle()
    await engine.dispose()


def checked_out(engine: AsyncEngine) -> int:
    return len(_CHECKED_OUT[engine])


class Gate:
    """Holds a method of every `AsyncConnection` at its start (`before`) or its end until
    opened, and says when a call has reached it."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.opened = asyncio.Event()

    def around(
        self, method: Callable[..., Awaitable[Any]], *, before: bool
    ) -> Callable[..., Awaitable[Any]]:
        async def gated(conn: AsyncConnection, *args: Any, **kwargs: Any) -> Any:
            if before:
                await self._wait()
            result = await method(conn, *args, **kwargs)
            if not before:
                await self._wait()
            return result

        return gated

    async def _wait(self) -> None:
        self.reached.set()
        await self.opened.wait()


async def _lookup(engine: AsyncEngine) -> None:
    async with connection(engine, "bands") as conn:
        await conn.execute(text("SELECT 1"))


async def _cancel_at(gate: Gate, engine: AsyncEngine) -> None:
    """Run a lookup, cancel it once it reaches the gate, then open the gate."""
    task = asyncio.create_task(_lookup(engine))
    await gate.reached.wait()
    task.cancel()
    await asyncio.sleep(0)  # the cancellation lands while the gate is still shut
    gate.opened.set()
    with pytest.raises(asyncio.CancelledError):
        await task


async def _back_in_the_pool(engine: AsyncEngine) -> None:
    for _ in range(200):  # a connection given up on mid-checkout is closed in the background
        if checked_out(engine) == 0:
            break
        await asyncio.sleep(0.01)
    gc.collect()  # a connection left checked out would be the collector's (an error here)
    assert checked_out(engine) == 0
    async with connection(engine, "bands") as conn:  # and the pool serves the next lookup
        assert (await conn.execute(text("SELECT 1"))).scalar() == 1


@pytest.mark.parametrize(
    ("method", "before"),
    [
        pytest.param("close", True, id="while-it-gives-its-connection-back"),
        pytest.param("start", False, id="as-its-checkout-ends"),
        pytest.param("start", True, id="while-it-waits-for-a-checkout"),  # a control: never leaked
    ],
)
async def test_a_lookup_cancelled_at_any_moment_gives_its_connection_back(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, method: str, before: bool
) -> None:
    gate = Gate()
    monkeypatch.setattr(AsyncConnection, method, gate.around(getattr(AsyncConnection, method), before=before))
    await _cancel_at(gate, engine)
    await _back_in_the_pool(engine)


def test_settling_waits_only_for_the_running_event_loops_checkouts() -> None:
    # A worker's `close` settles its own loop's checkouts; another loop's (a test's, an
    # `asyncio.run` before it) are not its to wait for, and would never end in this one.
    other = asyncio.new_event_loop()
    try:
        release = other.create_future()
        left = other.create_task(_until(release))
        pool_module._keep(left)  # noqa: SLF001 - a checkout given up on, in the other loop

        async def settle_soon() -> None:
            async with asyncio.timeout(1):
                await settle()

        asyncio.run(settle_soon())
        release.set_result(None)
        other.run_until_complete(left)
        assert left not in pool_module._giving_back  # noqa: SLF001 - gone once back
    finally:
        other.close()


async def _until(release: asyncio.Future[None]) -> None:
    await release
