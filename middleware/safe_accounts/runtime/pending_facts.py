"""Events the app acknowledged whose facts the request path could not read: read off it.

On a route whose answer does not wait for us (a block, a report, an answer to a contact
request), a lookup that fails or runs out of the time budget lets the request go on to
the app, and the app's 2xx acknowledges an event some of whose facts are then unknown: a
band, the pair's mutual connections, or the requesters an answer is about. Counted with
those facts as `unknown`, a child's block of an adult counts only where the policy takes
`unknown` for a minor (and an adult's block of an adult counts as a child's), and a
contact request with no mutual count matches no signal that asks for one. So the request
path queues it here (`add`: a list append, no I/O) with what it knows, and a background
task reads the missing facts, each attempt within `attempt_timeout`, and submits the events
as the request path would have, with the request's own time, so that windows count them
when they happened.

An attempt that fails is retried after a delay that doubles from `first_retry` up to
`max_retry`, for as long as the process lives: nothing pending is given up. `health()`
shows how many wait (and how many of them failed at least once); `drain()` tries every one
of them at once; `close()` tries them within `close_timeout`, then submits what is still
pending with what is known (the bands it could not read as `unknown`, which the protective
default counts as a minor's) and logs how many; an answer whose requesters were never read
has nothing to record and is logged and counted as lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..clock import Clock
from ..decide.budget import within
from ..errors import StorageError

logger = logging.getLogger("safe_accounts.pending_facts")

STILL_MISSING = "facts of %d acknowledged events still cannot be read (%s); retrying"
READ_AGAIN = "facts of the pending acknowledged events can be read again: %d recorded"
RECORDED_AS_KNOWN = "at shutdown %d acknowledged events were recorded with the facts known (missing: %s)"
LOST = "%d acknowledged events were lost: the accounts they are about were never read"
OVERFLOW = "too many acknowledged events wait for their facts: recorded with what is known"
RESOLVE_FAILED = "reading the facts of an acknowledged event failed (a bug, not an outage): recorded as known"


_GONE = object()

# Off the request path nobody waits for the answer, so an attempt may take several of the
# request's budgets: a store slow under load (why a fact goes missing) still answers, and
# a hung one still frees its connection.
BUDGETS_PER_ATTEMPT = 4
MIN_ATTEMPT_TIMEOUT = 1.0


def pending_attempt_timeout(time_budget: float) -> float:
    """How long one attempt to read a pending event's facts may take, from the policy's budget."""
    return max(MIN_ATTEMPT_TIMEOUT, BUDGETS_PER_ATTEMPT * time_budget)


class EventSink(Protocol):
    def submit(self, event: Any) -> None: ...


@dataclass(slots=True, eq=False)
class PendingEvent:
    """What the request path knew of an acknowledged event, and how to read the rest.

    `resolve` reads the missing facts and returns the events to submit (none when, once
    read, the event is about no account); it raises `StorageError` while they cannot be
    read. `known`: the events as far as the request path knew them, submitted only if the
    process stops before `resolve` succeeds."""

    kind: str
    at: float  # when it happened, from the runtime's clock
    missing: tuple[str, ...]  # which facts: "bands", "mutual", "requesters"
    resolve: Callable[[], Awaitable[Sequence[Any]]]
    known: tuple[Any, ...] = ()
    attempts: int = 0
    due: float = 0.0  # loop time of the next attempt


class PendingFacts:
    def __init__(
        self,
        sink: EventSink,
        *,
        clock: Clock,
        attempt_timeout: float,
        first_retry: float = 0.1,
        max_retry: float = 30.0,
        concurrency: int = 4,
        limit: int = 100_000,
        close_timeout: float = 5.0,
    ) -> None:
        self._sink = sink
        self._clock = clock
        self._attempt_timeout = attempt_timeout
        self._first_retry = first_retry
        self._max_retry = max_retry
        self._concurrency = concurrency
        self._limit = limit
        self._close_timeout = close_timeout
        self._pending: dict[PendingEvent, None] = {}  # in arrival order; by identity
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._failing = False
        self._overflowing = False
        self._resolved = 0  # pending events whose facts were read
        self._events = 0  # events submitted once their facts were read
        self._as_known = 0  # recorded with what was known (overflow, shutdown, a bug)
        self._lost = 0
        self._failures = 0  # attempts that failed
        self._last_error: str | None = None
        self._last_error_at: float | None = None

    # --- the request path -----------------------------------------------------------

    def add(self, item: PendingEvent) -> None:
        """Queue `item` (no I/O, never raises). Past `limit`, or once closed, it is recorded
        at once with what is known: late and imprecise rather than never."""
        if self._closed or len(self._pending) >= self._limit:
            if not self._closed and not self._overflowing:
                self._overflowing = True
                logger.error(OVERFLOW)
            self._record_as_known([item])
            return
        self._overflowing = False
        self._pending[item] = None
        if self._wake is not None:
            self._wake.set()

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="safe-accounts-pending-facts")

    async def drain(self) -> None:
        """Try every pending event once, now, whatever its retry delay. What still cannot be
        read stays pending, as `health()` shows."""
        await self._attempt(list(self._pending))

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            assert self._wake is not None
            self._wake.set()
            await self._task
            self._task = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._close_timeout
        delay = self._first_retry
        while self._pending:
            await self._attempt(list(self._pending))
            if not self._pending or loop.time() + delay >= deadline:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_retry)
        left = list(self._pending)
        self._pending.clear()
        if left:
            self._record_as_known(left)

    def health(self) -> dict[str, Any]:
        oldest = min((item.at for item in self._pending), default=None)
        return {
            "pending": len(self._pending),
            "retrying": sum(1 for item in self._pending if item.attempts),
            "oldest_at": oldest,
            "resolved": self._resolved,
            "events": self._events,
            "recorded_as_known": self._as_known,
            "lost": self._lost,
            "failed_attempts": self._failures,
            "last_error": self._last_error,
            "last_error_at": self._last_error_at,
        }

    # --- the background task --------------------------------------------------------

    async def _run(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while not self._closed:
            now = loop.time()
            next_due = min((item.due for item in self._pending), default=None)
            if next_due is None or next_due > now:
                timeout = None if next_due is None else next_due - now
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                self._wake.clear()
                continue
            due = [item for item in self._pending if item.due <= now]
            try:
                await self._attempt(due)
            except Exception:  # the task must outlive any one bad round
                logger.exception("pending facts: unexpected failure")

    async def _attempt(self, items: list[PendingEvent]) -> None:
        """Read the facts of `items`, a few at a time; a success is submitted and leaves the
        queue, a failure is tried again after its next delay."""
        if not items:
            return
        gate = asyncio.Semaphore(self._concurrency)
        done = await asyncio.gather(*(self._one(item, gate) for item in items))
        read = sum(done)
        failed = len(items) - read
        if failed and not self._failing:
            logger.warning(STILL_MISSING, failed, self._last_error)
        elif read and self._failing and not failed:
            logger.warning(READ_AGAIN, read)
        self._failing = bool(failed)

    async def _one(self, item: PendingEvent, gate: asyncio.Semaphore) -> bool:
        async with gate:
            if item not in self._pending:  # read meanwhile (drain beside the task)
                return True
            try:
                async with within(self._attempt_timeout):
                    events = await item.resolve()
            except StorageError as exc:
                self._failed(item, str(exc) or exc.__class__.__name__)
                return False
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # this task is stopping
                # A lookup shared with a request that gave up on it: not ours to stop on.
                self._failed(item, "a shared lookup was cancelled")
                return False
            except Exception:
                logger.exception(RESOLVE_FAILED)
                self._remove(item)
                self._record_as_known([item])
                return True
            if self._remove(item):
                self._resolved += 1
                for event in events:
                    self._sink.submit(event)
                self._events += len(events)
            return True

    def _failed(self, item: PendingEvent, error: str) -> None:
        item.attempts += 1
        self._failures += 1
        self._last_error = error
        self._last_error_at = self._clock.now()
        delay = min(self._first_retry * 2 ** (item.attempts - 1), self._max_retry)
        item.due = asyncio.get_running_loop().time() + delay

    def _remove(self, item: PendingEvent) -> bool:
        """Whether `item` was still pending: False when another attempt got there first."""
        return self._pending.pop(item, _GONE) is not _GONE

    def _record_as_known(self, items: Sequence[PendingEvent]) -> None:
        recorded = [item for item in items if item.known]
        lost = len(items) - len(recorded)
        for item in recorded:
            for event in item.known:
                self._sink.submit(event)
        self._as_known += len(recorded)
        self._lost += lost
        if self._closed and recorded:
            missing = sorted({fact for item in recorded for fact in item.missing})
            logger.error(RECORDED_AS_KNOWN, len(recorded), ", ".join(missing))
        if lost:
            logger.error(LOST, lost)
