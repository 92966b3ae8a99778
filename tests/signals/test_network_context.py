"""Network context in the signals (`where: {community_ties: ..., subject_band: ...}`), on
every store, with the shipped baseline's signals: only events whose facts are known and in
range count; an unknown fact counts towards nothing that asks for it."""

from __future__ import annotations

import uuid
from pathlib import Path

from safe_accounts.bands.age import AgeBand
from safe_accounts.policy.loader import load_policy
from safe_accounts.policy.model import EventKind
from safe_accounts.signals import Event, SignalPlan
from safe_accounts.signals.evidence import EvidenceItem
from safe_accounts.signals.store import SignalStore

from .conftest import MakeStore
from .policies import event

BASELINE = load_policy(Path(__file__).resolve().parents[2] / "policies" / "baseline.yaml").policy
PLAN = SignalPlan.compile(BASELINE.signals)
REJECTIONS = "scattered-rejections-by-minors"
TEEN_REQUESTS = "scattered-requests-from-minors"
NEW_TIES = "requests-through-new-ties"
AT = 1_800_000_000.0


async def crossed(store: SignalStore, events: list[Event]) -> list[str]:
    observations = [obs for e in events for obs in PLAN.observations(e)]
    return [c.signal for c in await store.record(uuid.uuid4().hex, observations)]


def rejection(i: int, ties: int | None) -> Event:
    return event(EventKind.CONTACT_REJECTED, AT + i, other=f"child-{i}", mutual=None, ties=ties)


def teen_request(i: int, ties: int | None, band: AgeBand | None = AgeBand.B13_15) -> Event:
    return event(EventKind.CONTACT_REQUEST, AT + i, other=f"child-{i}", mutual=0, ties=ties, subject_band=band)


async def test_the_second_rejection_from_outside_the_circle_crosses_once(make_store: MakeStore) -> None:
    store = make_store()
    assert REJECTIONS not in await crossed(store, [rejection(0, 0)])
    assert REJECTIONS in await crossed(store, [rejection(1, 0)])
    assert REJECTIONS not in await crossed(store, [rejection(2, 0), rejection(3, 0)])


async def test_rejections_by_children_in_the_circle_or_of_unknown_ties_never_count(make_store: MakeStore) -> None:
    store = make_store()
    in_circle = [rejection(i, 1 + i % 3) for i in range(20)]
    found = await crossed(store, in_circle + [rejection(50 + i, None) for i in range(20)])
    assert REJECTIONS not in found
    assert REJECTIONS in await crossed(store, [rejection(100, 0), rejection(101, 0)])


async def test_rejections_two_weeks_apart_do_not_add_up(make_store: MakeStore) -> None:
    store = make_store()
    await crossed(store, [rejection(0, 0)])
    late = event(EventKind.CONTACT_REJECTED, AT + 15 * 86400, other="child-late", mutual=None, ties=0)
    assert REJECTIONS not in await crossed(store, [late])


async def test_a_teen_accounts_third_request_outside_its_circle_crosses(make_store: MakeStore) -> None:
    store = make_store()
    assert TEEN_REQUESTS not in await crossed(store, [teen_request(0, 0), teen_request(1, 0)])
    assert TEEN_REQUESTS in await crossed(store, [teen_request(2, 0)])


async def test_requests_from_adults_of_unknown_band_or_inside_the_circle_never_count(make_store: MakeStore) -> None:
    store = make_store()
    events = (
        [teen_request(i, 0, AgeBand.ADULT) for i in range(10)]
        + [teen_request(20 + i, 0, None) for i in range(10)]
        + [teen_request(40 + i, 2) for i in range(10)]
        + [teen_request(60 + i, None) for i in range(10)]
    )
    assert TEEN_REQUESTS not in await crossed(store, events)


def adult_request(i: int, mutual: int | None, ties: int | None) -> Event:
    return event(
        EventKind.CONTACT_REQUEST, AT + i, other=f"child-{i}", mutual=mutual, ties=ties, subject_band=AgeBand.ADULT
    )


async def test_the_second_child_reached_only_through_new_friends_crosses_once(make_store: MakeStore) -> None:
    store = make_store()
    assert NEW_TIES not in await crossed(store, [adult_request(0, 1, 0)])
    assert NEW_TIES in await crossed(store, [adult_request(1, 2, 0)])
    assert NEW_TIES not in await crossed(store, [adult_request(2, 1, 0)])


async def test_children_with_no_friend_in_common_or_an_old_one_never_count_as_new_ties(
    make_store: MakeStore,
) -> None:
    store = make_store()
    events = (
        [adult_request(i, 0, 0) for i in range(10)]  # strangers: the other signals' business
        + [adult_request(20 + i, 1, 1) for i in range(10)]  # a friend of long standing
        + [adult_request(40 + i, None, 0) for i in range(10)]  # friends in common unknown
        + [adult_request(60 + i, 1, None) for i in range(10)]  # circle unknown
    )
    assert NEW_TIES not in await crossed(store, events)


async def test_the_crossings_evidence_carries_each_events_ties(make_store: MakeStore) -> None:
    store = make_store()
    await crossed(store, [rejection(0, 0)])
    observations = [obs for e in [rejection(1, 0)] for obs in PLAN.observations(e)]
    (crossing,) = [c for c in await store.record(uuid.uuid4().hex, observations) if c.signal == REJECTIONS]
    assert [item.ties for item in crossing.evidence] == [0, 0]


def test_evidence_written_without_ties_reads_as_before() -> None:
    with_ties = EvidenceItem(EventKind.CONTACT_REJECTED, "child|1", AgeBand.B13_15, 2, AT, 0)
    assert EvidenceItem.decode(with_ties.encode()) == with_ties
    assert with_ties.to_json()["ties"] == 0
    old = EvidenceItem(EventKind.CONTACT_REJECTED, "child|1", AgeBand.B13_15, 2, AT)
    assert EvidenceItem.decode(old.encode()) == old
    assert "ties" not in old.to_json()
