"""The signal store contract: every backend (in-process, Redis, Redis Cluster) passes it."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from safe_accounts.bands.age import AgeBand
from safe_accounts.clock import FrozenClock
from safe_accounts.policy.model import EventKind, Signals
from safe_accounts.signals import Crossing, Event, SignalPlan
from safe_accounts.signals.store import SignalStore

from .conftest import MakeStore
from .policies import BASELINE_LIKE, COUNT_SIGNALS, event

PLAN = SignalPlan.compile(BASELINE_LIKE)
DAY = 86400.0


async def record(store: SignalStore, events: list[Event], batch_id: str | None = None) -> list[Crossing]:
    observations = [obs for e in events for obs in PLAN.observations(e)]
    return await store.record(batch_id or uuid.uuid4().hex, observations)


def others(n: int, start: int = 0) -> list[str]:
    return [f"child-{i}" for i in range(start, start + n)]


@pytest.mark.parametrize(("signal", "kind", "threshold"), COUNT_SIGNALS)
async def test_each_signal_crosses_exactly_once_at_its_threshold(
    make_store: MakeStore, signal: str, kind: EventKind, threshold: int
) -> None:
    store = make_store()
    clock = FrozenClock()
    crossed_at: list[int] = []
    for i, other in enumerate(others(threshold * 2)):
        clock.advance(60)
        found = [c for c in await record(store, [event(kind, clock.now(), other=other)]) if c.signal == signal]
        crossed_at += [i + 1] * len(found)
    assert crossed_at == [threshold]


async def test_a_crossing_carries_counts_evidence_reason_and_escalation(make_store: MakeStore) -> None:
    store = make_store()
    clock = FrozenClock()
    events = [
        event(EventKind.CONTACT_REJECTED, clock.now() + i, other=o, mutual=i, decision_id=f"d{i}")
        for i, o in enumerate(others(5))
    ]
    (crossing,) = await record(store, events)
    assert crossing.signal == "rejected-by-minors"
    assert crossing.subject == "adult-1"
    assert crossing.counts == {"count": 5, "threshold": 5}
    assert crossing.reason == "contact requests rejected by minors"
    assert crossing.restrict is True
    assert crossing.decision_id == "d4"
    assert [e.other for e in crossing.evidence] == list(reversed(others(5)))
    newest = crossing.evidence[0]
    assert (newest.kind, newest.other_band, newest.mutual, newest.at) == (
        EventKind.CONTACT_REJECTED,
        AgeBand.B13_15,
        4,
        clock.now() + 4,
    )


async def test_one_batch_crossing_the_threshold_twice_over_raises_once(make_store: MakeStore) -> None:
    store = make_store()
    at = FrozenClock().now()
    found = await record(store, [event(EventKind.REPORTED, at + i, other=o) for i, o in enumerate(others(9))])
    assert [c.signal for c in found] == ["reported-by-minors"]


async def test_only_the_filtered_events_count(make_store: MakeStore) -> None:
    store = make_store()
    at = FrozenClock().now()
    ignored = [
        event(EventKind.BLOCKED, at, other="grown-up", band=AgeBand.ADULT),
        event(EventKind.BLOCKED, at, other="grown-up-2", band=AgeBand.ADULT),
        event(EventKind.BLOCKED, at, other="grown-up-3", band=AgeBand.ADULT),
    ]
    assert await record(store, ignored) == []
    counted = [event(EventKind.BLOCKED, at + i, other=o) for i, o in enumerate(others(3))]
    assert [c.signal for c in await record(store, counted)] == ["blocked-by-minors"]


async def test_unknown_band_counts_as_minor_only_when_the_policy_says_so(make_store: MakeStore) -> None:
    at = FrozenClock().now()
    unknowns = [
        event(EventKind.REPORTED, at + i, other=o, band=AgeBand.UNKNOWN) for i, o in enumerate(others(2))
    ]
    protective = make_store()
    assert [c.signal for c in await record(protective, unknowns)] == ["reported-by-minors"]
    adult_plan = SignalPlan.compile(BASELINE_LIKE, unknown_is_minor=False)
    assert [obs for e in unknowns for obs in adult_plan.observations(e)] == []


async def test_requests_with_mutual_connections_or_unknown_mutuals_are_not_stranger_requests(
    make_store: MakeStore,
) -> None:
    store = make_store()
    at = FrozenClock().now()
    known = [event(EventKind.CONTACT_REQUEST, at + i, other=o, mutual=2) for i, o in enumerate(others(12))]
    unknown = [
        event(EventKind.CONTACT_REQUEST, at + 20 + i, other=o, mutual=None)
        for i, o in enumerate(others(12, 100))
    ]
    assert await record(store, known + unknown) == []


async def test_distinct_others_counts_each_child_once(make_store: MakeStore) -> None:
    store = make_store()
    at = FrozenClock().now()
    same_nine = [event(EventKind.CONTACT_REQUEST, at + i, other=f"child-{i % 9}") for i in range(50)]
    assert await record(store, same_nine) == []
    (crossing,) = await record(store, [event(EventKind.CONTACT_REQUEST, at + 60, other="child-new")])
    assert crossing.signal == "requests-to-minor-strangers"
    assert crossing.counts["count"] == 10


async def test_old_events_stop_counting_as_the_window_slides(make_store: MakeStore) -> None:
    store = make_store()
    clock = FrozenClock()
    early = [event(EventKind.CONTACT_REJECTED, clock.now() + i, other=o) for i, o in enumerate(others(4))]
    assert await record(store, early) == []
    clock.advance(8 * DAY)  # past the 7d window
    assert await record(store, [event(EventKind.CONTACT_REJECTED, clock.now(), other="child-10")]) == []
    late = [event(EventKind.CONTACT_REJECTED, clock.now() + i, other=o) for i, o in enumerate(others(3, 20))]
    assert await record(store, late) == []
    (crossing,) = await record(store, [event(EventKind.CONTACT_REJECTED, clock.now() + 9, other="child-30")])
    assert crossing.counts["count"] == 5


async def test_events_inside_the_window_keep_counting_across_days(make_store: MakeStore) -> None:
    store = make_store()
    clock = FrozenClock()
    for other in others(4):
        assert await record(store, [event(EventKind.CONTACT_REJECTED, clock.now(), other=other)]) == []
        clock.advance(1.5 * DAY)
    (crossing,) = await record(store, [event(EventKind.CONTACT_REJECTED, clock.now(), other="child-9")])
    assert crossing.signal == "rejected-by-minors"


async def test_one_alert_per_window_then_a_new_one_in_the_next(make_store: MakeStore) -> None:
    store = make_store()
    clock = FrozenClock()
    first = await record(store, [event(EventKind.REPORTED, clock.now() + i, other=o) for i, o in enumerate(others(2))])
    clock.advance(10 * DAY)
    more = [event(EventKind.REPORTED, clock.now() + i, other=o) for i, o in enumerate(others(5, 10))]
    assert await record(store, more) == []  # still inside the alert's 30-day window
    clock.advance(25 * DAY)
    again = await record(
        store, [event(EventKind.REPORTED, clock.now() + i, other=o) for i, o in enumerate(others(2, 30))]
    )
    assert len(first) == len(again) == 1
    assert first[0].window_key != again[0].window_key


async def test_rejection_rate_needs_its_minimum_then_crosses_once(make_store: MakeStore) -> None:
    store = make_store()
    at = FrozenClock().now()
    requests = [event(EventKind.CONTACT_REQUEST, at + i, other=o, mutual=3) for i, o in enumerate(others(8))]
    assert await record(store, requests) == []
    rejections = [
        event(EventKind.CONTACT_REJECTED, at + 100 + i, other=o, mutual=3) for i, o in enumerate(others(4))
    ]
    found = await record(store, rejections)
    rates = [c for c in found if c.signal == "rejection-rate-minors"]
    assert len(rates) == 1
    assert rates[0].kind == "rate"
    assert rates[0].counts["numerator"] == 4 and rates[0].counts["denominator"] == 8
    assert {e.kind for e in rates[0].evidence} == {EventKind.CONTACT_REQUEST, EventKind.CONTACT_REJECTED}
    more = [event(EventKind.CONTACT_REJECTED, at + 200, other="child-7", mutual=3)]
    assert "rejection-rate-minors" not in [c.signal for c in await record(store, more)]


async def test_rate_below_its_minimum_denominator_never_crosses(make_store: MakeStore) -> None:
    store = make_store()
    at = FrozenClock().now()
    requests = [event(EventKind.CONTACT_REQUEST, at + i, other=o, mutual=3) for i, o in enumerate(others(7))]
    rejections = [
        event(EventKind.CONTACT_REJECTED, at + 10 + i, other=o, mutual=3) for i, o in enumerate(others(4))
    ]
    assert await record(store, requests + rejections) == []


async def test_a_replayed_batch_counts_nothing_twice_and_gives_the_same_answer(make_store: MakeStore) -> None:
    store = make_store()
    at = FrozenClock().now()
    batch = [event(EventKind.REPORTED, at, other="child-1"), event(EventKind.REPORTED, at + 1, other="child-2")]
    first = await record(store, batch, batch_id="batch-1")
    replay = await record(store, batch, batch_id="batch-1")
    assert [c.signal for c in first] == [c.signal for c in replay] == ["reported-by-minors"]
    assert replay[0].counts == first[0].counts
    clock_later = at + 40 * DAY
    (again,) = await record(
        store, [event(EventKind.REPORTED, clock_later + i, other=o) for i, o in enumerate(others(2))]
    )
    assert again.counts["count"] == 2  # the replay added nothing


async def test_concurrent_batches_crossing_together_raise_one_crossing(make_store: MakeStore) -> None:
    store = make_store()
    at = FrozenClock().now()
    batches = [
        [event(EventKind.CONTACT_REJECTED, at + i, other=f"child-{b}-{i}") for i in range(3)] for b in range(6)
    ]
    found = await asyncio.gather(*(record(store, b) for b in batches))
    assert sum(len([c for c in f if c.signal == "rejected-by-minors"]) for f in found) == 1


async def test_subjects_are_counted_apart(make_store: MakeStore) -> None:
    store = make_store()
    at = FrozenClock().now()
    mixed = [
        event(EventKind.REPORTED, at + i, subject=f"adult-{i % 3}", other=f"child-{i}") for i in range(6)
    ]
    found = await record(store, mixed)
    assert sorted(c.subject for c in found) == ["adult-0", "adult-1", "adult-2"]


async def test_evidence_is_capped_newest_first(make_store: MakeStore) -> None:
    store = make_store(evidence_kept=3)
    at = FrozenClock().now()
    calm = Signals.model_validate(
        {"counts": [{"id": "dm", "event": "direct_message_denied", "window": "1h", "threshold": 8, "reason": "r"}]}
    )
    plan = SignalPlan.compile(calm)
    events = [event(EventKind.DM_DENIED, at + i, other=f"child-{i}") for i in range(8)]
    (crossing,) = await store.record("b", [o for e in events for o in plan.observations(e)])
    assert [e.other for e in crossing.evidence] == ["child-7", "child-6", "child-5"]


async def test_with_a_pseudonym_key_no_account_id_is_kept(make_store: MakeStore) -> None:
    store = make_store(pseudonym_key=b"k" * 32)
    at = FrozenClock().now()
    (crossing,) = await record(
        store, [event(EventKind.REPORTED, at + i, other=o) for i, o in enumerate(["child-a", "child-b"])]
    )
    assert crossing.subject == "adult-1"  # the alert names the account; the store does not
    assert all(e.other not in {"child-a", "child-b"} and len(e.other) == 22 for e in crossing.evidence)


async def test_account_ids_with_braces_stay_in_one_slot(make_store: MakeStore) -> None:
    store = make_store()
    at = FrozenClock().now()
    odd = [event(EventKind.REPORTED, at + i, subject="}{odd|id%", other=f"c|{i}") for i in range(2)]
    (crossing,) = await record(store, odd)
    assert crossing.subject == "}{odd|id%"
    assert {e.other for e in crossing.evidence} == {"c|0", "c|1"}


# --- pending crossings: what a worker killed before SQL took the alert leaves behind ---


def reported_by_two(at: float) -> list[Event]:
    """Two minors report adult-1: `reported-by-minors` crosses at `at + 1`."""
    return [event(EventKind.REPORTED, at + i, other=o) for i, o in enumerate(others(2))]


async def test_a_crossing_not_acknowledged_is_pending_for_every_store_on_the_backend(
    make_store: MakeStore,
) -> None:
    store = make_store()
    at = FrozenClock().now()
    (crossing,) = await record(store, reported_by_two(at))
    assert await store.pending(PLAN, at + 1) == [crossing]  # the whole crossing, as record gave it
    if store.backend != "memory":  # another worker on the same Redis finds it too
        other = make_store()
        assert await other.pending(PLAN, at + 1) == [crossing]


async def test_an_acknowledged_crossing_is_no_longer_pending(make_store: MakeStore) -> None:
    store = make_store()
    at = FrozenClock().now()
    events = [event(EventKind.REPORTED, at + i, subject=f"adult-{i % 2}", other=f"child-{i}") for i in range(4)]
    first, second = await record(store, events)
    await store.acknowledge([first])
    assert await store.pending(PLAN, at + 10) == [second]
    await store.acknowledge([second])
    assert await store.pending(PLAN, at + 10) == []


async def test_a_rate_crossing_is_pending_with_its_counts(make_store: MakeStore) -> None:
    store = make_store()
    at = FrozenClock().now()
    requests = [event(EventKind.CONTACT_REQUEST, at + i, other=o, mutual=3) for i, o in enumerate(others(8))]
    rejections = [
        event(EventKind.CONTACT_REJECTED, at + 100 + i, other=o, mutual=3) for i, o in enumerate(others(4))
    ]
    found = await record(store, requests + rejections)
    (rate,) = [c for c in found if c.kind == "rate"]
    assert rate.counts["numerator"] == 4 and rate.counts["denominator"] == 8
    assert [c for c in await store.pending(PLAN, at + 200) if c.kind == "rate"] == [rate]


async def test_only_crossings_at_or_before_the_cut_off_are_pending(make_store: MakeStore) -> None:
    store = make_store()
    at = FrozenClock().now()
    (crossing,) = await record(store, reported_by_two(at))
    assert await store.pending(PLAN, crossing.at - 1) == []
    assert await store.pending(PLAN, crossing.at) == [crossing]


async def test_a_signal_the_policy_dropped_is_not_raised_from_pending(make_store: MakeStore) -> None:
    store = make_store()
    at = FrozenClock().now()
    await record(store, reported_by_two(at))
    without = Signals.model_validate(
        {"counts": [{"id": "dm", "event": "direct_message_denied", "window": "1h", "threshold": 8, "reason": "r"}]}
    )
    assert await store.pending(SignalPlan.compile(without), at + 10) == []


async def test_a_replayed_batch_leaves_one_pending_crossing(make_store: MakeStore) -> None:
    store = make_store()
    at = FrozenClock().now()
    batch = reported_by_two(at)
    (crossing,) = await record(store, batch, batch_id="batch-1")
    await record(store, batch, batch_id="batch-1")
    assert await store.pending(PLAN, at + 10, scan=True) == [crossing]


@pytest.mark.parametrize("offset", [-1e-6, 0.0, 0.999999])
async def test_a_crossing_at_a_window_edge_is_acknowledged_under_its_own_window(
    make_store: MakeStore, offset: float
) -> None:
    # The script names the pending entry's window itself; it must agree with window_key.
    store = make_store()
    (spec,) = [c for c in PLAN.counts if c.id == "reported-by-minors"]
    edge = (FrozenClock().now() // spec.window + 1) * spec.window
    (crossing,) = await record(store, reported_by_two(edge + offset - 1))
    await store.acknowledge([crossing])
    assert await store.pending(PLAN, edge + 10) == []
