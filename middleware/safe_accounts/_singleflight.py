"""Fetches in flight, shared: a miss for a key already being fetched waits for that fetch.

A burst of requests about one account (a popular profile, a busy conversation) used to cost
a query each, all queued for the same few pool connections. Now the first miss fetches, and
every miss for the same key while it runs waits for its answer.

The fetch runs as a task of its own, so that one waiter running out of time does not cancel
it for the others; when the last waiter is gone it is cancelled, as a lone request's query
always was. `forget` stops new misses joining a fetch that started before a change (they
fetch afresh); the waiters already in it get what it read, as a fetch that raced a change
always gave.

With `at_once`, at most that many fetches run together; misses for other keys that come
while they all run gather in one waiting fetch, which starts, with every key it gathered,
when one of them ends. A cold worker under a burst of requests about many accounts then
asks a few queries of many ids instead of one query per account, each waiting for one of
the pool's few connections and its budget running out in line. Without `at_once` every
miss starts its own fetch at once, as its caller expects (a fetch may read one key only).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Flight(Generic[K, V]):
    __slots__ = ("keys", "task", "waiters")

    def __init__(self, keys: list[K]) -> None:
        self.keys = keys  # grows while the flight waits for its turn (`at_once`), then fixed
        self.task: asyncio.Task[Mapping[K, V]]
        self.waiters = 0


class Flights(Generic[K, V]):
    """Keys being fetched, each to the one fetch that reads it."""

    __slots__ = ("_gathering", "_running", "_turns", "started", "joined")

    def __init__(self, at_once: int | None = None) -> None:
        self._running: dict[K, _Flight[K, V]] = {}
        self._turns = None if at_once is None else asyncio.Semaphore(at_once)
        # The fetch waiting for its turn, that new misses join (only with `at_once`).
        self._gathering: _Flight[K, V] | None = None
        self.started = 0  # fetches run
        self.joined = 0  # misses that waited for another's fetch instead of running their own

    def __len__(self) -> int:
        return len(self._running)

    async def get(self, keys: Collection[K], fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]]) -> dict[K, V]:
        """What `fetch` gives for `keys`: those already in flight from their fetch, the rest
        in one call `fetch(rest)` that later misses may join. A key `fetch` leaves out is
        left out here too. Raises what the fetch raised."""
        flights: list[_Flight[K, V]] = []
        rest: list[K] = []
        seen: set[int] = set()
        for key in keys:
            flight = self._running.get(key)
            if flight is None:
                rest.append(key)
            else:
                self.joined += 1
                if id(flight) not in seen:
                    seen.add(id(flight))
                    flights.append(flight)
        if rest:
            gathering = self._gathering
            if gathering is None:
                flights.append(self._start(rest, fetch))
            else:
                self.joined += len(rest)
                gathering.keys.extend(rest)
                for key in rest:
                    self._running[key] = gathering
                if id(gathering) not in seen:
                    flights.append(gathering)
        for flight in flights:
            flight.waiters += 1
        found: dict[K, V] = {}
        try:
            for flight in flights:
                found.update(await asyncio.shield(flight.task))
        finally:
            for flight in flights:
                flight.waiters -= 1
                if flight.waiters == 0 and not flight.task.done():
                    # Nobody waits for it any more. Unlisted at once, not when the cancellation
                    # lands: a miss joining it meanwhile would be handed its CancelledError.
                    self._unlist(flight)
                    flight.task.cancel()
        return {key: found[key] for key in keys if key in found}

    def forget(self) -> None:
        """Misses from now on fetch afresh: something changed since the running fetches began."""
        self._running.clear()
        self._gathering = None

    async def close(self) -> None:
        """Cancel what is in flight (at shutdown)."""
        tasks = {flight.task for flight in self._running.values()}
        self._running.clear()
        self._gathering = None
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _start(self, keys: list[K], fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]]) -> _Flight[K, V]:
        flight: _Flight[K, V] = _Flight(keys)
        turns = self._turns

        async def run() -> Mapping[K, V]:
            if turns is None:
                return await fetch(keys)
            async with turns:
                if self._gathering is flight:
                    self._gathering = None
                self.started += 1
                return await fetch(list(flight.keys))

        if turns is None:
            self.started += 1
        else:
            # Open until its turn comes, at the earliest when this step of the loop is done.
            self._gathering = flight
        flight.task = asyncio.get_running_loop().create_task(run())
        for key in keys:
            self._running[key] = flight
        flight.task.add_done_callback(lambda task: self._landed(flight, task))
        return flight

    def _unlist(self, flight: _Flight[K, V]) -> None:
        if self._gathering is flight:
            self._gathering = None
        for key in flight.keys:
            if self._running.get(key) is flight:
                del self._running[key]

    def _landed(self, flight: _Flight[K, V], task: asyncio.Task[Mapping[K, V]]) -> None:
        self._unlist(flight)
        if not task.cancelled():
            task.exception()  # retrieved here: a fetch every waiter left must not warn at exit


__all__ = ["Flights"]
