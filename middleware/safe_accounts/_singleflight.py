"""Fetches in flight, shared: a miss for a key already being fetched waits for that fetch.

A burst of requests about one account (a popular profile, a busy conversation) used to cost
a query each, all queued for the same few pool connections. Now the first miss fetches, and
every miss for the same key while it runs waits for its answer.

The fetch runs as a task of its own, so that one waiter running out of time does not cancel
it for the others; when the last waiter is gone it is cancelled, as a lone request's query
always was. `forget` stops new misses joining a fetch that started before a change (they
fetch afresh); the waiters already in it get what it read, as a fetch that raced a change
always gave.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Flight(Generic[K, V]):
    __slots__ = ("keys", "task", "waiters")

    def __init__(self, keys: list[K], task: asyncio.Task[Mapping[K, V]]) -> None:
        self.keys = keys
        self.task = task
        self.waiters = 0


class Flights(Generic[K, V]):
    """Keys being fetched, each to the one fetch that reads it."""

    __slots__ = ("_running", "started", "joined")

    def __init__(self) -> None:
        self._running: dict[K, _Flight[K, V]] = {}
        self.started = 0  # fetches run
        self.joined = 0  # misses that waited for another's fetch instead of running their own

    def __len__(self) -> int:
        return len(self._running)

    async def get(
        self, keys: Collection[K], fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]]
    ) -> dict[K, V]:
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
            flights.append(self._start(rest, fetch))
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

    async def close(self) -> None:
        """Cancel what is in flight (at shutdown)."""
        tasks = {flight.task for flight in self._running.values()}
        self._running.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _start(self, keys: list[K], fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]]) -> _Flight[K, V]:
        async def run() -> Mapping[K, V]:
            return await fetch(keys)

        self.started += 1
        flight: _Flight[K, V] = _Flight(keys, asyncio.get_running_loop().create_task(run()))
        for key in keys:
            self._running[key] = flight
        flight.task.add_done_callback(lambda task: self._landed(flight, task))
        return flight

    def _unlist(self, flight: _Flight[K, V]) -> None:
        for key in flight.keys:
            if self._running.get(key) is flight:
                del self._running[key]

    def _landed(self, flight: _Flight[K, V], task: asyncio.Task[Mapping[K, V]]) -> None:
        self._unlist(flight)
        if not task.cancelled():
            task.exception()  # retrieved here: a fetch every waiter left must not warn at exit


__all__ = ["Flights"]
