"""Counts read for rules (`actor_count`), and signals that only count (`alert: false`), on
every store: what a rule reads is what the store would count, in the window, at that moment."""

from __future__ import annotations

import uuid

import pytest

from safe_accounts.bands.age import AgeBand
from safe_accounts.clock import FrozenClock
from safe_accounts.policy.model import CountSignal, EventKind, Signals
from safe_accounts.signals import Event, SignalPlan
from safe_accounts.signals.counts import SignalCounts
from safe_accounts.signals.store import SignalStore

from .conftest import MakeStore

HOUR = 3600.0

SIGNALS = Signals.model_validate(
    {
        "counts": [
            {
                "id": "unconnected-minors-requested",
                "event": "contact_request",
                "where": {"other_band": ["minor"], "mutual_connections": {"max": 0}, "refused": False},
                "window": "24h",
                "count": "distinct_others",
                "alert": False,
                "reason": "requests that reached unconnected minors",
            },
            {
                "id": "requests-to-minors",
                "event": "contact_request",
                "where": {"other_band": ["minor"]},
                "window": "24h",
                "threshold": 1000,
                "reason": "every request to a minor, refused ones too",
            },
        ]
    }
)
PLAN = SignalPlan.compile(SIGNALS)
CAPPED = "unconnected-minors-requested"


def request(at: float, other: str, *, mutual: int | None = 0, refused: bool = False) -> Event:
    return Event(EventKind.CONTACT_REQUEST, "adult-1", other, AgeBand.B13_15, mutual, at, None, refused)


async def record(store: SignalStore, events: list[Event]) -> list[str]:
    observations = [obs for e in events for obs in PLAN.observations(e)]
    return [c.signal for c in await store.record(uuid.uuid4().hex, observations)]


async def test_a_signal_that_only_counts_never_raises_a_crossing(make_store: MakeStore) -> None:
    store = make_store()
    at = FrozenClock().now()
    crossed = await record(store, [request(at + i, f"child-{i}") for i in range(500)])
    assert crossed == []


async def test_the_count_a_rule_reads_is_distinct_others_in_the_window(make_store: MakeStore) -> None:
    store = make_store()
    clock = FrozenClock()
    counts = SignalCounts(store, PLAN, clock=clock)
    start = clock.now()
    await record(store, [request(start, "child-1"), request(start + 60, "child-2"), request(start + 120, "child-1")])
    clock.set(start + HOUR)
    assert await counts.count("adult-1", CAPPED) == 2
    assert await counts.count("adult-1", "requests-to-minors") == 3
    assert await counts.count("someone-else", CAPPED) == 0


async def test_the_count_falls_as_the_window_passes_without_any_write(make_store: MakeStore) -> None:
    store = make_store()
    clock = FrozenClock()
    counts = SignalCounts(store, PLAN, clock=clock)
    start = clock.now()
    await record(store, [request(start, "child-1"), request(start + 12 * HOUR, "child-2")])
    clock.set(start + 20 * HOUR)
    assert await counts.count("adult-1", CAPPED) == 2
    clock.set(start + 25 * HOUR)  # the first request is out of its 24 hours (and its bucket)
    assert await counts.count("adult-1", CAPPED) == 1
    clock.set(start + 37 * HOUR)
    assert await counts.count("adult-1", CAPPED) == 0


async def test_refused_attempts_and_requests_with_a_friend_in_common_are_not_counted(make_store: MakeStore) -> None:
    store = make_store()
    clock = FrozenClock()
    counts = SignalCounts(store, PLAN, clock=clock)
    at = clock.now()
    await record(store, [
        request(at, "child-1", refused=True),
        request(at, "child-2", mutual=1),
        request(at, "child-3", mutual=None),  # not known: matches no range
        request(at, "child-4"),
    ])
    assert await counts.count("adult-1", CAPPED) == 1
    assert await counts.count("adult-1", "requests-to-minors") == 4


async def test_a_signal_the_plan_does_not_count_reads_zero(make_store: MakeStore) -> None:
    counts = SignalCounts(make_store(), PLAN, clock=FrozenClock())
    assert await counts.count("adult-1", "no-such-signal") == 0


def test_a_counting_signal_has_no_threshold_and_an_alerting_one_needs_one() -> None:
    with pytest.raises(ValueError, match="needs a `threshold`"):
        CountSignal.model_validate({"id": "x", "event": "contact_request", "window": "1d", "reason": "r"})
    with pytest.raises(ValueError, match="raises no alert"):
        CountSignal.model_validate(
            {"id": "x", "event": "contact_request", "window": "1d", "reason": "r", "alert": False, "threshold": 3}
        )
    with pytest.raises(ValueError, match="raises no alert"):
        CountSignal.model_validate({
            "id": "x", "event": "contact_request", "window": "1d", "reason": "r", "alert": False,
            "escalate": {"restrict": True},
        })
