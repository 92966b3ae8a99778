"""The signal recorder: takes events from the request path and writes them off it.

`submit` only appends to an in-memory queue (no I/O, never blocks, never raises). A
background task writes the queue to the store in batches, each subject's events in the
order they were submitted: it splits the queue by subject over `writers` lanes (2), each
with one batch at a time on the wire, so that Redis runs one lane's batch while this
process reads the other's answer and builds its next - every count, marker and crossing
is per subject, so no guarantee needs an order across subjects. While the store is
unreachable the queues are the spool: events wait, bounded by `spool_limit` in all, and are
written in order when the store returns; what would overflow it is dropped, counted and
logged.
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
from dataclasses import replace
from typing import Any

from ..clock import SYSTEM_CLOCK, Clock
from ..db.bulk_insert import bounded
from ..db.metadata import ACCOUNT_ID_LENGTH
from ..errors import StorageError
from ..policy.model import Signals
from .crossing import Crossing
from .events import Event
from .plan import Note, SignalPlan
from .scoring import Scorer
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
SCORING_FAILED = "could not read the counts to score a batch (its subjects' next events score them): %s"

MAX_RETRY_INTERVAL = 1.0

Batch = tuple[str, list[Note], int]  # id, observations (and acceptances), events


class _Lane:
    """The events of the subjects that fall to one writer, in order, and its batch on the wire."""

    __slots__ = ("queue", "inflight", "lock")

    def __init__(self) -> None:
        self.queue: deque[Event] = deque()
        self.inflight: Batch | None = None  # kept, with its id, until the store confirms it
        self.lock = asyncio.Lock()  # one batch of this lane at a time: its order is kept


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
        writers: int = 2,
    ) -> None:
        self._store = store
        self._plan = SignalPlan.compile(signals, unknown_is_minor=unknown_is_minor)
        self._scorer = Scorer(self._plan, store)
        self._on_crossing = on_crossing
        self._clock = clock
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._spool_limit = spool_limit
        self._close_timeout = close_timeout
        self._queue: deque[Event] = deque()  # submitted, not yet split over the lanes
        self._lanes = [_Lane() for _ in range(max(1, writers))]
        self._in_lanes = 0  # events in the lanes' queues
        self._crossings: deque[Crossing] = deque()
        self._held: set[tuple[str, str, str, str]] = set()  # the crossings in _crossings
        self._recovery_interval = recovery_interval
        self._recovery_grace = recovery_grace
        self._recovery_due = 0.0  # loop time of the next recovery pass
        self._scan_due = True  # the start-up pass, with its scan, still to do
        self._recovered = 0
        self._handing = asyncio.Lock()  # one hand-over at a time: no crossing offered twice
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._failing = False
        self._overflowing = False
        self._overflowed = 0
        self._rejected = 0
        self._recorded = 0
        # Events taken in, by kind: what a load test checks against what its clients were
        # answered, kind by kind, to tell a lost event from one that was never submitted.
        self._submitted: dict[str, int] = {}
        self._crossed = 0
        self._last_error: str | None = None
        self._last_error_at: float | None = None

    @property
    def plan(self) -> SignalPlan:
        return self._plan

    # --- the request path -----------------------------------------------------------

    def submit(self, event: Event) -> None:
        if self._closed or len(self._queue) + self._in_lanes >= self._spool_limit:
            self._overflowed += 1
            if not self._overflowing:
                self._overflowing = True
                logger.error(SPOOL_OVERFLOW)
            return
        if len(event.subject) > ACCOUNT_ID_LENGTH or len(event.other) > ACCOUNT_ID_LENGTH:
            event = _bounded(event)
        # Split over the lanes by the writer, not here: reading the subject costs the
        # request path a cache miss.
        self._queue.append(event)
        kind = event.kind.value
        self._submitted[kind] = self._submitted.get(kind, 0) + 1
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
        if len(self._lanes) == 1:
            await self._drain(self._lanes[0])
        else:
            await asyncio.gather(*(self._drain(lane) for lane in self._lanes))
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
            if not (self._waiting() or self._crossings) or loop.time() >= deadline:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_INTERVAL)
        left = self._waiting()
        if left:
            logger.error(EVENTS_LOST_AT_CLOSE, left)
        await self._store.close()

    def health(self) -> dict[str, Any]:
        waiting = self._waiting()
        persistence = getattr(self._store, "persistence", None)
        return {
            "backend": self._store.backend,
            "queued": waiting,
            "spooled": waiting if self._failing else 0,
            "overflowed": self._overflowed,
            "rejected": self._rejected,
            "recorded": self._recorded,
            "submitted": dict(sorted(self._submitted.items())),
            "crossings": self._crossed,
            "crossings_pending": len(self._crossings),
            "crossings_recovered": self._recovered,
            "store_reachable": not self._failing,
            "last_error": self._last_error,
            "last_error_at": self._last_error_at,
            # Whether the store outlives its server's restart (Redis: AOF or snapshots).
            "persistence": None if persistence is None else persistence.health(),
        }

    def _waiting(self) -> int:
        """Events submitted and not yet written."""
        in_flight = sum(lane.inflight[2] for lane in self._lanes if lane.inflight is not None)
        return len(self._queue) + self._in_lanes + in_flight

    # --- the background writer ------------------------------------------------------

    async def _run(self) -> None:
        assert self._wake is not None
        delay = self._flush_interval
        while not self._closed:
            if len(self._queue) + self._in_lanes < self._batch_size and not self._failing:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._flush_interval)
            self._wake.clear()
            try:
                if not self._failing and asyncio.get_running_loop().time() >= self._recovery_due:
                    with contextlib.suppress(StorageError):  # the next write reports the outage
                        await self.recover()
                await self.flush()
            except Exception:  # the writer must outlive any one bad batch
                logger.exception("signal recorder: unexpected failure")
            if (self._failing or self._crossings) and not self._closed:
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_INTERVAL)
            else:
                delay = self._flush_interval

    async def _drain(self, lane: _Lane) -> None:
        while self._queue or lane.queue or lane.inflight is not None:
            if not await self._write_next(lane):
                break

    async def _write_next(self, lane: _Lane) -> bool:
        async with lane.lock:
            if lane.inflight is None:
                lane.inflight = self._take(lane)
                if lane.inflight is None:
                    return True
            batch_id, observations, taken = lane.inflight
            try:
                crossings = await self._store.record(batch_id, observations) if observations else []
            except StorageError as exc:
                self._note_failure(exc)
                return False
            except Exception:
                # Not an outage: retrying would wedge every later event behind this batch.
                logger.exception(BATCH_REJECTED, taken)
                self._rejected += taken
                lane.inflight = None
                return True
            lane.inflight = None
            self._recorded += taken
            if self._scorer.active:
                crossings += await self._score(observations)
            self._crossed += len(crossings)
            for crossing in crossings:
                if _identity(crossing) not in self._held:
                    self._held.add(_identity(crossing))
                    self._crossings.append(crossing)
            if self._failing:
                self._failing = False
                logger.warning(STORE_RECOVERED, len(self._queue) + self._in_lanes)
            if len(self._queue) + self._in_lanes < self._spool_limit:
                self._overflowing = False
            return True

    async def _score(self, observations: list[Note]) -> list[Crossing]:
        """The score crossings of a batch just recorded. The batch stays recorded if the
        counts cannot be read: a score is read, never written, so the subjects' next events
        score them on everything counted by then."""
        try:
            return await self._scorer.evaluate(observations)
        except StorageError as exc:
            logger.warning(SCORING_FAILED, exc)
            return []

    def _split(self) -> None:
        """Move what was submitted to the lanes, each subject always to the same one."""
        queue, lanes = self._queue, self._lanes
        if not queue:
            return
        self._in_lanes += len(queue)
        if len(lanes) == 1:
            lanes[0].queue.extend(queue)
        else:
            count = len(lanes)
            for event in queue:
                lanes[hash(event.subject) % count].queue.append(event)
        queue.clear()

    def _take(self, lane: _Lane) -> Batch | None:
        """A lane's next batch, with its observations; None if its queue is empty."""
        self._split()
        if not lane.queue:
            return None
        taken = min(self._batch_size, len(lane.queue))
        self._in_lanes -= taken
        observations: list[Note] = []
        observe, pop = self._plan.observations, lane.queue.popleft
        for _ in range(taken):
            observations += observe(pop())
        return (uuid.uuid4().hex, observations, taken)

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
                    except Exception:  # kept and offered again, never lost
                        logger.exception(CROSSING_HANDLER_FAILED)
                        return
                    self._crossings.popleft()
                    self._held.discard(_identity(crossing))
                    handed.append(crossing)
            finally:
                await self._acknowledge(handed)

    async def _acknowledge(self, handed: list[Crossing]) -> None:
        # A score crossing is never pending in the store (scoring.py): nothing to acknowledge.
        handed = [c for c in handed if c.kind != "score"]
        if not handed:
            return
        try:
            await self._store.acknowledge(handed)
        except StorageError as exc:
            # Left pending, a crossing is offered once more by a recovery pass and refused
            # by SQL as a duplicate: retrying here would only delay the next batch.
            logger.warning(ACKNOWLEDGE_FAILED, len(handed), exc)


def _bounded(event: Event) -> Event:
    """`event` with ids our tables can keep. Only an id no request supplied gets here (the
    request path refuses those): a requester only the app's answer names. Counted, alerted
    and restricted under its bounded form, as the decision log writes it, it keeps the store's
    keys short and its alert one PostgreSQL stores, instead of one retried for ever with every
    later alert behind it."""
    return replace(
        event, subject=bounded(event.subject, ACCOUNT_ID_LENGTH), other=bounded(event.other, ACCOUNT_ID_LENGTH)
    )


def _identity(crossing: Crossing) -> tuple[str, str, str, str]:
    return (crossing.subject, crossing.kind, crossing.signal, crossing.window_key)
