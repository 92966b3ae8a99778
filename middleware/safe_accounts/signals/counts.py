"""The actor's current counts, for rules that read them (`actor_count`): a cap before any alert.

A rule may refuse an account that has already done something often in a window (sent
requests to many children it shares no friends with today) without raising an alert: the
count is the one the grooming-signal pipeline keeps, read from its store at the moment of
the decision. Events still queued in this worker (up to the recorder's flush interval) are
not in it yet, so a burst may pass the cap by what is in flight.
"""

from __future__ import annotations

from ..clock import Clock
from .plan import SignalPlan
from .store import SignalStore


class SignalCounts:
    """`decide.facts.CountFacts` from a signal store."""

    __slots__ = ("_clock", "_plan", "_store")

    def __init__(self, store: SignalStore, plan: SignalPlan, *, clock: Clock) -> None:
        self._store = store
        self._plan = plan
        self._clock = clock

    async def count(self, account_id: str, signal: str) -> int:
        """`account_id`'s count under the count signal `signal` now; 0 for a signal the plan
        does not count (the policy checks that a rule names an enabled one). Raises
        StorageError."""
        spec = self._plan.count_named(signal)
        if spec is None:
            return 0
        return await self._store.count(account_id, spec, self._clock.now())
