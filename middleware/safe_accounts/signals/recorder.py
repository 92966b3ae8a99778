"""The signal recorder: takes events from the request path and writes them off it.

`submit` only appends to an in-memory queue (no I/O, never blocks, never raises). A
background task writes the queue to the store in batches, in order. While the store is
unreachable the queue is the spool: events wait, bounded by `spool_limit`, and are written
in order when the store returns; what would overflow it is dropped, counted and logged.
A batch being written keeps its id until the store confirms it, so a retry after an
ambiguous failure is answered from the store's receipt and counts nothing twice.
Crossings go to `on_crossing`; one that fails there is kept and offered again. One that
succeeds is acknowledged to the store, which keeps every crossing pending until then: at
start-up (taking everything) and every `recovery_interval` (taking what is older than
`recovery_grace`, so a live worker about to acknowledge is not raced), the recorder takes
the crossings no worker acknowledged - e.g. one killed while SQL was down - and hands them
to `on_crossing` too, which stores each alert once whoever offers it (SQL's unique key).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import StorageError
from ..policy.model import Signals
from .crossing import Crossing
from .events import Event
from .plan import Observation, SignalPlan
from .store import SignalStore

logger = logging.getLogger(__name__)

SPOOL_OVERFLOW = "signal spool is full: events are being dropped (see health()['overflowed'])"
STORE_UNREACHABLE = "signal store unreachable, events are spooled until it returns: %s"
STORE_RECOVERED = "signal store reachable again: %d spooled events are being written"
CROSSING_HANDLER_FAILED = "alert handler failed for a signal crossing; it will be offered again"
BATCH_REJECTED = "the signal store rejected a batch (a bug, not an outage): %d events dropped"
EVENTS_LOST_AT_CLOSE = "signal store unreachable at shutdown: %d events were not written"
ACKNOWLEDGE_FAILED = "could not acknowledge %d crossings to the signal store (their alerts are stored): %s"
RECOVERED = "%d crossings left pending by a stopped worker are being raised"

MAX_RETRY_INTERVAL = 1.0


class SignalRecorder:
    def __init__(
        self,
        store: SignalStore,
        signals: Signals,
        *,
        on_crossing: Callable[[Crossing], Awaitable[Any]],
        clock: Clock = SYSTEM_CLOCK,
        batch_size: int = 256,
        flush_interval: float = 0.05,
        spool_limit: int = 100_000,
        unknown_is_minor: bool = True,
        close_timeout: float = 5.0,
        recovery_interval: float = 30.0,
        recovery_grace: float = 10.0,
    ) -> None:
        self._store = store
        self._plan = SignalPlan.compile(signals, unknown_is_minor=unknown_is_minor)
        self._on_crossing = on_crossing
        self._clock = clock
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._spool_limit = spool_limit
        self._close_timeout = close_timeout
        self._queue: deque[Event] = deque()
        self._inflight: tuple[str, list[Observation], int] | None = None  # id, observations, events
        self._next: tuple[str, list[Observation], int] | None = None  # taken while _inflight was written
        # A store that can build a batch's request ahead (Redis) builds the next one while
        # the current one is on the wire; the in-process store has nothing to build.
        self._prepare: Callable[[str, list[Observation]], None] | None = getattr(store, "prepare", None)
        self._crossings: deque[Crossing] = deque()
        self._held: set[tuple[str, str, str, str]] = set()  # the crossings in _crossings
        self._recovery_interval = recovery_interval
        self._recovery_grace = recovery_grace
        self._recovery_due = 0.0  # loop time of the next recovery pass
        self._scan_due = True  # the start-up pass, with its scan, still to do
        self._recovered = 0
        self._lock = asyncio.Lock()  # one batch at a time: order is kept
        self._handing = asyncio.Lock()  # one hand-over at a time: no crossing offered twice
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._failing = False
        self._overflowing = False
        self._overflowed = 0
        self._rejected = 0
        self._recorded = 0
        self._crossed = 0
        self._last_error: str | None = None
        self._last_error_at: float | None = None

    @property
    def plan(self) -> SignalPlan:
        return self._plan

    # --- the request path -----------------------------------------------------------

    def submit(self, event: Event) -> None:
        if self._closed or len(self._queue) >= self._spool_limit:
            self._overflowed += 1
            if not self._overflowing:
                self._overflowing = True
                logger.error(SPOOL_OVERFLOW)
            return
        self._queue.append(event)
        if self._wake is not None and len(self._queue) >= self._batch_size:
            self._wake.set()

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is not None:
            return
        self._wake = asyncio.Event()
        with contextlib.suppress(StorageError):
            await self._store.start()  # an outage at start-up is spooled like any other
            await self.recover()
        self._task = asyncio.create_task(self._run(), name="safe-accounts-signal-recorder")

    async def flush(self) -> None:
        """Write everything submitted so far (as far as the store lets us) and hand over crossings."""
        while self._queue or self._inflight is not None or self._next is not None:
            if not await self._write_next():
                break
        await self._hand_over()

    async def recover(self) -> int:
        """Take the crossings left pending in the store; how many were new to this worker.

        The first pass (at start-up) takes them all, and scans for those a killed writer
        left unindexed: a worker that restarts wants its own crossings back at once, and
        racing a live worker then costs one duplicate, refused by SQL. Later passes take only
        those older than `recovery_grace`. Raises StorageError."""
        before = math.inf if self._scan_due else self._clock.now() - self._recovery_grace
        loop = asyncio.get_running_loop()
        try:
            found = await self._store.pending(self._plan, before, scan=self._scan_due)
        except StorageError:
            self._recovery_due = loop.time() + MAX_RETRY_INTERVAL
            raise
        self._scan_due = False
        self._recovery_due = loop.time() + self._recovery_interval
        fresh = [c for c in found if _identity(c) not in self._held]
        if fresh:
            logger.warning(RECOVERED, len(fresh))
            self._crossings.extend(fresh)
            self._held.update(_identity(c) for c in fresh)
            self._recovered += len(fresh)
        return len(fresh)

    async def close(self) -> None:
        """Stop taking events, write what is queued (waiting up to `close_timeout` for an
        unreachable store), then close the store."""
        self._closed = True
        if self._task is not None:
            # Told to stop rather than cancelled: Python 3.11's wait_for can swallow a
            # cancellation that arrives as the wake-up event fires.
            assert self._wake is not None
            self._wake.set()
            await self._task
            self._task = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._close_timeout
        delay = self._flush_interval
        while True:
            await self.flush()
            if not (self._queue or self._inflight or self._next or self._crossings) or loop.time() >= deadline:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_INTERVAL)
        left = self._waiting()
        if left:
            logger.error(EVENTS_LOST_AT_CLOSE, left)
        await self._store.close()

    def health(self) -> dict[str, Any]:
        waiting = self._waiting()
        return {
            "backend": self._store.backend,
            "queued": waiting,
            "spooled": waiting if self._failing else 0,
            "overflowed": self._overflowed,
            "rejected": self._rejected,
            "recorded": self._recorded,
            "crossings": self._crossed,
            "crossings_pending": len(self._crossings),
            "crossings_recovered": self._recovered,
            "store_reachable": not self._failing,
            "last_error": self._last_error,
            "last_error_at": self._last_error_at,
        }

    def _waiting(self) -> int:
        """Events submitted and not yet written."""
        batches = (self._inflight, self._next)
        return len(self._queue) + sum(batch[2] for batch in batches if batch is not None)

    # --- the background writer ------------------------------------------------------

    async def _run(self) -> None:
        assert self._wake is not None
        delay = self._flush_interval
        while not self._closed:
            if len(self._queue) < self._batch_size and not self._failing:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._flush_interval)
            self._wake.clear()
            try:
                if not self._failing and asyncio.get_running_loop().time() >= self._recovery_due:
                    with contextlib.suppress(StorageError):  # the next write reports the outage
                        await self.recover()
                await self.flush()
            except Exception:  # noqa: BLE001 - the writer must outlive any one bad batch
                logger.exception("signal recorder: unexpected failure")
            if (self._failing or self._crossings) and not self._closed:
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_INTERVAL)
            else:
                delay = self._flush_interval

    async def _write_next(self) -> bool:
        async with self._lock:
            if self._inflight is None:
                self._inflight, self._next = self._next or self._take(), None
                if self._inflight is None:
                    return True
            batch_id, observations, taken = self._inflight
            try:
                if not observations:
                    crossings = []
                elif self._next is None and self._queue and self._prepare is not None:
                    crossings = await self._write_and_take_next(batch_id, observations)
                else:
                    crossings = await self._store.record(batch_id, observations)
            except StorageError as exc:
                self._note_failure(exc)
                return False
            except Exception:
                # Not an outage: retrying would wedge every later event behind this batch.
                logger.exception(BATCH_REJECTED, taken)
                self._rejected += taken
                self._inflight = None
                return True
            self._inflight = None
            self._recorded += taken
            self._crossed += len(crossings)
            for crossing in crossings:
                if _identity(crossing) not in self._held:
                    self._held.add(_identity(crossing))
                    self._crossings.append(crossing)
            if self._failing:
                self._failing = False
                logger.warning(STORE_RECOVERED, len(self._queue))
            if len(self._queue) < self._spool_limit:
                self._overflowing = False
            return True

    def _take(self) -> tuple[str, list[Observation], int] | None:
        """The next batch off the queue, with its observations; None if the queue is empty."""
        if not self._queue:
            return None
        taken = min(self._batch_size, len(self._queue))
        observations: list[Observation] = []
        observe, pop = self._plan.observations, self._queue.popleft
        for _ in range(taken):
            observations += observe(pop())
        batch = (uuid.uuid4().hex, observations, taken)
        if observations and self._prepare is not None:
            try:
                self._prepare(batch[0], observations)
            except Exception:  # noqa: BLE001 - `record` meets the same fault and rejects the batch
                logger.debug("signal recorder: a batch could not be prepared", exc_info=True)
        return batch

    async def _write_and_take_next(self, batch_id: str, observations: list[Observation]) -> list[Crossing]:
        """Write a batch, taking and building the next one while it is on the wire: Redis
        runs one batch's script while this process builds the next call, instead of each
        waiting for the other. Order is kept: the next batch is written only once this one
        is confirmed (retried first if it fails)."""
        writing = asyncio.ensure_future(self._store.record(batch_id, observations))
        try:
            await asyncio.sleep(0)  # the write runs up to its first wait: the request is out
            if not writing.done() and self._next is None:
                self._next = self._take()
        except BaseException:
            writing.cancel()
            raise
        return await writing

    def _note_failure(self, exc: Exception) -> None:
        if not self._failing:
            logger.error(STORE_UNREACHABLE, exc)
        self._failing = True
        self._last_error = str(exc)
        self._last_error_at = self._clock.now()

    async def _hand_over(self) -> None:
        async with self._handing:
            handed: list[Crossing] = []
            try:
                while self._crossings:
                    crossing = self._crossings[0]
                    try:
                        await self._on_crossing(crossing)
                    except Exception:  # noqa: BLE001 - kept and offered again, never lost
                        logger.exception(CROSSING_HANDLER_FAILED)
                        return
                    self._crossings.popleft()
                    self._held.discard(_identity(crossing))
                    handed.append(crossing)
            finally:
                await self._acknowledge(handed)

    async def _acknowledge(self, handed: list[Crossing]) -> None:
        if not handed:
            return
        try:
            await self._store.acknowledge(handed)
        except StorageError as exc:
            # Left pending, a crossing is offered once more by a recovery pass and refused
            # by SQL as a duplicate: retrying here would only delay the next batch.
            logger.warning(ACKNOWLEDGE_FAILED, len(handed), exc)


def _identity(crossing: Crossing) -> tuple[str, str, str, str]:
    return (crossing.subject, crossing.kind, crossing.signal, crossing.window_key)
