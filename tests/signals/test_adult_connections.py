"""Age misrepresentation in the signals (`where: {subject_adult_connections: ...}`), on every
store: a teen account whose own circle is mostly adults is counted for its requests to
children outside that circle; a share under the threshold, or one not known, counts
towards nothing that asks for it; the crossing's evidence says what the share was."""

from __future__ import annotations

import uuid
from dataclasses import replace

from safe_accounts.bands.age import AgeBand
from safe_accounts.policy.model import EventKind, Signals
from safe_accounts.signals import Event, SignalPlan
from safe_accounts.signals.evidence import EvidenceItem
from safe_accounts.signals.memory import InProcessSignalStore
from safe_accounts.signals.store import SignalStore

from .conftest import MakeStore
from .policies import event

ADULT_CIRCLE = "adult-circle-teen-requests"
SIGNALS = Signals.model_validate(
    {
        "counts": [
            {
                "id": ADULT_CIRCLE,
                "event": "contact_request",
                "where": {
                    "subject_band": ["minor"],
                    "other_band": ["minor"],
                    "community_ties": {"max": 0},
                    "subject_adult_connections": {"min": 60},
                    "refused": False,
                },
                "window": "7d",
                "count": "distinct_others",
                "threshold": 2,
                "reason": "a teen account with a mostly adult circle asking children outside it",
                "escalate": {"restrict": True},
            }
        ]
    }
)
PLAN = SignalPlan.compile(SIGNALS)
AT = 1_800_000_000.0


def request(i: int, adults: int | None, *, subject: str = "teen-1", band: AgeBand = AgeBand.B13_15) -> Event:
    found = event(
        EventKind.CONTACT_REQUEST, AT + i, subject=subject, other=f"child-{i}", mutual=0, ties=0, subject_band=band
    )
    return replace(found, adult_connections=adults)


async def crossed(store: SignalStore, events: list[Event]) -> list[str]:
    observations = [obs for e in events for obs in PLAN.observations(e)]
    return [c.signal for c in await store.record(uuid.uuid4().hex, observations)]


async def test_the_second_child_asked_by_a_teen_with_an_adult_circle_crosses_once(make_store: MakeStore) -> None:
    store = make_store()
    assert await crossed(store, [request(0, 60)]) == []
    assert await crossed(store, [request(1, 75)]) == [ADULT_CIRCLE]
    assert await crossed(store, [request(2, 100)]) == []


async def test_a_circle_just_under_the_threshold_never_counts(make_store: MakeStore) -> None:
    store = make_store()
    assert await crossed(store, [request(i, 59) for i in range(10)]) == []


async def test_a_share_not_known_never_counts(make_store: MakeStore) -> None:
    # Too few connections to say, or a lookup that could not be read: an alert accuses,
    # and is raised only on what is known.
    store = make_store()
    assert await crossed(store, [request(i, None) for i in range(10)]) == []


async def test_an_adults_requests_never_count_whatever_its_circle(make_store: MakeStore) -> None:
    store = make_store()
    assert await crossed(store, [request(i, 100, band=AgeBand.ADULT) for i in range(10)]) == []


async def test_the_evidence_says_what_the_share_was(make_store: MakeStore) -> None:
    store = make_store()
    await crossed(store, [request(0, 80)])
    observations = PLAN.observations(request(1, 67))
    (crossing,) = await store.record(uuid.uuid4().hex, observations)
    assert sorted(item.adult_connections or 0 for item in crossing.evidence) == [67, 80]
    assert {item.to_json()["subject_adult_connections"] for item in crossing.evidence} == {67, 80}


async def test_two_writers_crossing_together_raise_one_crossing(make_store: MakeStore) -> None:
    # Two stores on one backend (two workers); in memory one store stands for one process.
    first = make_store()
    second = first if isinstance(first, InProcessSignalStore) else make_store()
    one = [request(0, 90), request(1, 90)]
    other = [request(2, 90), request(3, 90)]
    assert len(await crossed(first, one) + await crossed(second, other)) == 1


def test_evidence_written_without_the_share_reads_as_before() -> None:
    with_both = EvidenceItem(EventKind.CONTACT_REQUEST, "child|1", AgeBand.B13_15, 0, AT, 0, 75)
    only_share = EvidenceItem(EventKind.CONTACT_REQUEST, "child|1", AgeBand.B13_15, None, AT, None, 75)
    only_ties = EvidenceItem(EventKind.CONTACT_REQUEST, "child|1", AgeBand.B13_15, 2, AT, 0)
    for item in (with_both, only_share, only_ties):
        assert EvidenceItem.decode(item.encode()) == item
    assert "subject_adult_connections" not in only_ties.to_json()
    assert only_share.to_json()["subject_adult_connections"] == 75
