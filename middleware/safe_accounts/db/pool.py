"""Connections for lookups on the request path: waited for only while the query can still
finish in time, and timed.

A lookup's time is two parts: waiting in line for a pool connection, then running the query.
On a saturated worker the first grows while the second does not, and a request whose budget
is nearly gone used to wait for a connection anyway, then run out of time in the query. Here
a lookup under a deadline (`until`, set by the request's time budget) waits for a connection
at most until the deadline less the kind's typical query time, and gives up at once (as a
`StorageError`, so the rules' `on_failure` decides as for any failed lookup) when there is no
idle connection and no time left for even the query. The typical query time is measured: a
moving average of the kind's recent queries.

Both parts are counted per lookup kind (`bands`, `relationships.connected`, ...), per pool,
into small fixed histograms for the health report (`docs/reliability.md`).
"""

from __future__ import annotations

import asyncio
import bisect
import contextvars
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import Pool, QueuePool

from ..errors import StorageError

# Upper bounds of the histogram buckets, in milliseconds; the last bucket is everything above.
BUCKETS_MS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)
# Weight of the latest query in the typical query time: recent enough to follow load, steady
# enough that one slow query does not make every request give up.
TYPICAL_WEIGHT = 0.1

# The loop time by which the current request's lookups must be done (None: no deadline).
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("safe_accounts_deadline", default=None)


class NoConnectionInTime(StorageError):
    """No pool connection could be had early enough for the query to finish within the budget."""


@contextmanager
def until(deadline: float) -> Iterator[None]:
    """Lookups inside must be done by `deadline` (the event loop's clock); an outer, earlier
    deadline stays."""
    outer = _deadline.get()
    token = _deadline.set(deadline if outer is None else min(outer, deadline))
    try:
        yield
    finally:
        _deadline.reset(token)


class Histogram:
    """Counts of durations by bucket (`BUCKETS_MS`), with their sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS_MS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS_MS, seconds * 1000)] += 1
        self.total += seconds

    def health(self) -> dict[str, Any]:
        labels = [f"<={b}ms" for b in BUCKETS_MS] + [f">{BUCKETS_MS[-1]}ms"]
        return {"total_ms": round(self.total * 1000, 3), "buckets": dict(zip(labels, self.counts, strict=True))}


class LookupTimes:
    """Where one kind of lookup's time went: waiting for a connection, then the query."""

    __slots__ = ("count", "failed", "gave_up", "typical", "waiting", "querying")

    def __init__(self) -> None:
        self.count = 0  # queries run to the end
        self.failed = 0  # queries that raised or were cancelled (a budget overrun)
        self.gave_up = 0  # lookups that gave up waiting for a connection
        self.typical = 0.0  # seconds: the moving average of this kind's query times
        self.waiting = Histogram()
        self.querying = Histogram()

    def observe(self, waited: float, queried: float) -> None:
        self.count += 1
        self.waiting.observe(waited)
        self.querying.observe(queried)
        self.typical = queried if self.count == 1 else self.typical + TYPICAL_WEIGHT * (queried - self.typical)

    def health(self) -> dict[str, Any]:
        return {
            "queries": self.count,
            "failed": self.failed,
            "gave_up_waiting": self.gave_up,
            "typical_query_ms": round(self.typical * 1000, 3),
            "waiting_for_connection": self.waiting.health(),
            "running_query": self.querying.health(),
        }


class PoolTimings:
    """The `LookupTimes` of every kind of lookup on one pool."""

    __slots__ = ("kinds", "pool", "__weakref__")

    def __init__(self, pool: Pool) -> None:
        self.kinds: dict[str, LookupTimes] = {}
        self.pool = weakref.ref(pool)

    def of(self, kind: str) -> LookupTimes:
        times = self.kinds.get(kind)
        if times is None:
            times = self.kinds[kind] = LookupTimes()
        return times

    def health(self) -> dict[str, Any]:
        pool = self.pool()
        report: dict[str, Any] = {"by_kind": {kind: t.health() for kind, t in sorted(self.kinds.items())}}
        if isinstance(pool, QueuePool):
            report["pool"] = {
                "size": pool.size(),
                "max_overflow": pool._max_overflow,  # noqa: SLF001 - QueuePool keeps it nowhere public
                "idle": pool.checkedin(),
                "in_use": pool.checkedout(),
            }
        return report


_timings: weakref.WeakKeyDictionary[Pool, PoolTimings] = weakref.WeakKeyDictionary()


def timings(engine: AsyncEngine) -> PoolTimings:
    """The lookup timings of `engine`'s pool (shared by its `execution_options` copies)."""
    pool = engine.pool
    found = _timings.get(pool)
    if found is None:
        found = _timings[pool] = PoolTimings(pool)
    return found


def _idle(pool: Pool) -> bool:
    """Whether a checkout would not wait: an idle connection, or room to open one."""
    if not isinstance(pool, QueuePool):
        return True
    return pool.checkedin() > 0 or pool.overflow() < pool._max_overflow  # noqa: SLF001


@asynccontextmanager
async def connection(engine: AsyncEngine, kind: str) -> AsyncIterator[AsyncConnection]:
    """A connection of `engine` for one `kind` of lookup, waited for no longer than the
    deadline allows, and the wait and the query timed. Raises `NoConnectionInTime` (a
    `StorageError`) when the wait is given up."""
    times = timings(engine).of(kind)
    loop = asyncio.get_running_loop()
    asked = loop.time()
    deadline = _deadline.get()
    conn = engine.connect()
    if deadline is None or _idle(engine.pool):
        await _started(conn)
    else:
        patience = deadline - asked - times.typical
        if patience <= 0:
            times.gave_up += 1
            raise NoConnectionInTime(
                f"lookup {kind!r}: no idle connection, and the time left is less than a typical query"
            )
        try:
            async with asyncio.timeout(patience):
                await _started(conn)
        except TimeoutError:
            times.gave_up += 1
            raise NoConnectionInTime(
                f"lookup {kind!r}: no connection in time for the query to finish within the budget"
            ) from None
    got = loop.time()
    try:
        yield conn
    except BaseException:
        times.failed += 1
        times.waiting.observe(got - asked)
        raise
    else:
        times.observe(got - asked, loop.time() - got)
    finally:
        await _closed(conn)


# Checkouts their caller stopped waiting for, and connections on their way back to the
# pool because of it, until they are back (`settle`): a task nothing refers to may be
# collected before it has run.
_giving_back: set[asyncio.Future[Any]] = set()


async def _started(conn: AsyncConnection) -> None:
    """`conn.start()`, run to its end even when the caller stops waiting for it (its time
    budget ran out): a checkout or a connect cancelled halfway loses its connection to the
    pool for ever (with aiosqlite, until the pool refuses every lookup), and so does one
    that ended just before the cancellation reached its caller. The caller's cancellation
    is raised at once; the connection, once had, goes straight back to the pool."""
    starting = asyncio.ensure_future(conn.start())
    try:
        await asyncio.shield(starting)
    except asyncio.CancelledError:
        _keep(starting)
        starting.add_done_callback(lambda _: _close_when_had(conn, starting))
        raise


def _keep(task: asyncio.Future[Any]) -> None:
    _giving_back.add(task)
    task.add_done_callback(_giving_back.discard)


def _close_when_had(conn: AsyncConnection, starting: asyncio.Future[Any]) -> None:
    if starting.cancelled() or starting.exception() is not None:
        return  # nothing was had: nothing to give back
    _keep(asyncio.ensure_future(conn.close()))


async def settle() -> None:
    """Wait until the connections given up on are back in their pools: at shutdown, before
    the engines are disposed (a checkout given up on may still be in line for one). Only
    this event loop's: one closed meanwhile (a test's, an `asyncio.run`) ran none of its
    own to the end, and none of them will."""
    loop = asyncio.get_running_loop()
    while True:
        for task in [t for t in _giving_back if t.get_loop().is_closed()]:
            _giving_back.discard(task)
        mine = {task for task in _giving_back if task.get_loop() is loop}
        if not mine:
            return
        await asyncio.wait(mine)


async def _closed(conn: AsyncConnection) -> None:
    """`conn.close()`, run to its end before the caller goes on, even when the caller is
    cancelled meanwhile (a shared fetch whose last waiter left while it was giving its
    connection back): cancelled halfway, the close leaves the connection checked out for
    ever. A cancellation that came meanwhile is raised once the connection is back."""
    closing = asyncio.ensure_future(conn.close())
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            await asyncio.shield(closing)
        except asyncio.CancelledError as exc:
            if closing.done():
                raise
            cancelled = exc
        else:
            break
    if cancelled is not None:
        raise cancelled


async def fill(engine: AsyncEngine) -> int:
    """Open the pool's `size` connections now (at start-up), not under the first requests:
    a worker that starts under load would otherwise open them all at once, each a new
    server process, while its first lookups wait in line for them. How many were opened.
    Raises what connecting raises."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return 0
    wanted = pool.size() - pool.checkedin()
    if wanted <= 0:
        return 0
    conns = [engine.connect() for _ in range(wanted)]
    try:
        await asyncio.gather(*(conn.start() for conn in conns))
    finally:
        await asyncio.gather(*(conn.close() for conn in conns), return_exceptions=True)
    return wanted


__all__ = ["NoConnectionInTime", "PoolTimings", "connection", "fill", "settle", "timings", "until"]
