"""The shipped baseline's own signals, read from policies/baseline.yaml, each driven to its
threshold on every store backend (in-process, Redis, Redis Cluster): whatever the defaults
are tuned to, each count crosses exactly once at its threshold and the rejection rate
crosses once its minimum of requests is there; the count the cap on requests to strangers
reads reaches the cap's minimum at that many children, not before."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from safe_accounts.bands.age import AgeBand
from safe_accounts.clock import FrozenClock
from safe_accounts.policy.loader import load_policy
from safe_accounts.policy.model import EventKind
from safe_accounts.signals import Crossing, Event, SignalPlan
from safe_accounts.signals.counts import SignalCounts
from safe_accounts.signals.store import SignalStore

from .conftest import MakeStore
from .policies import event

BASELINE = load_policy(Path(__file__).resolve().parents[2] / "policies" / "baseline.yaml").policy
PLAN = SignalPlan.compile(BASELINE.signals)
COUNTS = [c for c in PLAN.counts if c.alerts]
COUNTED_ONLY = [c for c in PLAN.counts if not c.alerts]
RATES = list(PLAN.rates)


async def record(store: SignalStore, events: list[Event]) -> list[Crossing]:
    observations = [obs for e in events for obs in PLAN.observations(e)]
    return await store.record(uuid.uuid4().hex, observations)


def test_the_baseline_declares_signals_to_test() -> None:
    assert COUNTS and RATES


@pytest.mark.parametrize("spec", COUNTS, ids=[c.id for c in COUNTS])
async def test_each_baseline_count_crosses_exactly_once_at_its_threshold(
    make_store: MakeStore, spec
) -> None:  # type: ignore[no-untyped-def]
    store = make_store()
    at = 1_800_000_000.0
    crossed_at: list[int] = []
    # One event a minute, each to another child with as few friends in common as the
    # signal allows, outside the subject's circle, from an account that says it is a teen:
    # inside the signal's window and filter.
    mutual = spec.mutual_min or 0
    for i in range(spec.threshold * 2):
        at += 60
        found = await record(
            store, [event(spec.event, at, other=f"child-{i}", mutual=mutual, ties=0, subject_band=AgeBand.B13_15)]
        )
        crossed_at += [i + 1] * sum(1 for c in found if c.signal == spec.id)
    assert crossed_at == [spec.threshold]


@pytest.mark.parametrize("spec", COUNTED_ONLY, ids=[c.id for c in COUNTED_ONLY])
async def test_each_baseline_signal_that_only_counts_never_crosses(
    make_store: MakeStore, spec
) -> None:  # type: ignore[no-untyped-def]
    store = make_store()
    at = 1_800_000_000.0
    found = await record(store, [event(spec.event, at + i, other=f"child-{i}", mutual=0) for i in range(500)])
    assert spec.id not in [c.signal for c in found]


@pytest.mark.parametrize("rate", RATES, ids=[r.id for r in RATES])
async def test_each_baseline_rate_waits_for_its_minimum_then_crosses_once(
    make_store: MakeStore, rate
) -> None:  # type: ignore[no-untyped-def]
    store = make_store()
    at = 1_800_000_000.0
    needed = rate.min_denominator
    # Requests with a friend in common: only the rate's own counts see them.
    requests = [
        event(rate.denominator.event, at + i, other=f"child-{i}", mutual=3)
        for i in range(needed - 1)
    ]
    rejections = [
        event(rate.numerator.event, at + 100 + i, other=f"child-{i}", mutual=3)
        for i in range(needed - 1)
    ]
    # Every request so far rejected, one request short of the minimum: no crossing.
    found = await record(store, requests + rejections)
    assert rate.id not in [c.signal for c in found]
    last = f"child-{needed - 1}"
    found = await record(store, [event(rate.denominator.event, at + 200, other=last, mutual=3)])
    crossings = [c for c in found if c.signal == rate.id]
    assert len(crossings) == 1 and crossings[0].kind == "rate"
    assert crossings[0].counts["denominator"] == needed
    assert crossings[0].counts["numerator"] == needed - 1
    again = await record(store, [event(rate.numerator.event, at + 300, other=last, mutual=3)])
    assert rate.id not in [c.signal for c in again]


def test_the_rate_counts_rejections_of_requests_to_minors() -> None:
    for rate in RATES:
        assert rate.numerator.event is EventKind.CONTACT_REJECTED
        assert rate.denominator.event is EventKind.CONTACT_REQUEST


CAP = next(rule for rule in BASELINE.rules if rule.id == "stranger-request-cap").when.actor_count


async def test_the_count_the_cap_reads_reaches_its_minimum_at_that_many_children_reached(make_store: MakeStore) -> None:
    assert CAP is not None
    store = make_store()
    clock = FrozenClock(1_800_000_000.0)
    counts = SignalCounts(store, PLAN, clock=clock)
    for i in range(CAP.min):
        # Below the cap's minimum until the last of them is counted: the request it reads
        # for goes on.
        assert await counts.count("adult-1", CAP.signal) == i
        request = event(
            EventKind.CONTACT_REQUEST, clock.now(), other=f"child-{i}", mutual=0, subject_band=AgeBand.ADULT
        )
        assert CAP.signal not in [c.signal for c in await record(store, [request])]
        clock.advance(60)
    assert await counts.count("adult-1", CAP.signal) == CAP.min
    # The same child again is no new child; one it shares a friend with is not counted.
    again = event(EventKind.CONTACT_REQUEST, clock.now(), other="child-0", mutual=0, subject_band=AgeBand.ADULT)
    friend = event(EventKind.CONTACT_REQUEST, clock.now(), other="child-x", mutual=1, subject_band=AgeBand.ADULT)
    await record(store, [again, friend])
    assert await counts.count("adult-1", CAP.signal) == CAP.min
