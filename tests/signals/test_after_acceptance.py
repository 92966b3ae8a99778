"""Behaviour after acceptance (issue 14), on every store: a direct message within minutes of
the child accepting (`where: {accepted_within: ...}`, which the store checks against the
acceptances it remembers) and contact at night (`where: {at_night: true}`, in the policy's
time zone). Never message text: a DM is an event like any other."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from safe_accounts.bands.age import AgeBand
from safe_accounts.policy.model import EventKind, Signals
from safe_accounts.signals import Crossing, Event, SignalPlan
from safe_accounts.signals.memory import InProcessSignalStore
from safe_accounts.signals.plan import Acceptance, NightClock
from safe_accounts.signals.store import SignalStore

from .conftest import MakeStore
from .policies import event

SOON = "messages-soon-after-acceptance"
NIGHT = "night-messages-to-minors"
SIGNALS = Signals.model_validate(
    {
        "night": {"from": "22:00", "to": "06:00", "timezone": "Europe/London"},
        "counts": [
            {
                "id": SOON,
                "event": "direct_message",
                "where": {"other_band": ["minor"], "subject_band": ["adult"], "accepted_within": "10m"},
                "window": "7d",
                "count": "distinct_others",
                "threshold": 3,
                "reason": "messages to three children within minutes of their accepting",
            },
            {
                "id": NIGHT,
                "event": "direct_message",
                "where": {"other_band": ["minor"], "subject_band": ["adult"], "at_night": True},
                "window": "7d",
                "count": "distinct_others",
                "threshold": 3,
                "reason": "messages to three children at night",
            },
        ],
    }
)
PLAN = SignalPlan.compile(SIGNALS)
MINUTE = 60.0
# 14:00 in London on a winter's day (GMT): by day, and a fresh acceptance period.
DAY = datetime(2027, 1, 12, 14, 0, tzinfo=UTC).timestamp()


def accepted(child: str, at: float, *, adult: str = "adult-1") -> Event:
    """`child` accepted `adult`'s contact request (the event is about the requester)."""
    return event(EventKind.CONTACT_ACCEPTED, at, subject=adult, other=child, mutual=None)


def dm(child: str, at: float, *, adult: str = "adult-1", band: AgeBand = AgeBand.ADULT) -> Event:
    return event(EventKind.DIRECT_MESSAGE, at, subject=adult, other=child, mutual=None, subject_band=band)


async def record(store: SignalStore, events: list[Event]) -> list[Crossing]:
    return await store.record(uuid.uuid4().hex, [note for e in events for note in PLAN.observations(e)])


async def crossed(store: SignalStore, events: list[Event], signal: str = SOON) -> int:
    return sum(1 for c in await record(store, events) if c.signal == signal)


# --- a DM within minutes of acceptance ------------------------------------------------------


async def test_the_third_child_messaged_minutes_after_accepting_crosses_once(make_store: MakeStore) -> None:
    store = make_store()
    found = []
    for i in range(6):
        at = DAY + i * 3600
        found.append(await crossed(store, [accepted(f"child-{i}", at), dm(f"child-{i}", at + 4 * MINUTE)]))
    assert found == [0, 0, 1, 0, 0, 0]


async def test_a_message_exactly_at_the_limit_counts_and_one_second_later_does_not(make_store: MakeStore) -> None:
    store = make_store()
    late = []
    for i in range(3):
        await record(store, [accepted(f"late-{i}", DAY + i * MINUTE)])
        late.append(dm(f"late-{i}", DAY + i * MINUTE + 10 * MINUTE + 1))
    assert await crossed(store, late) == 0
    for i in range(3):
        await record(store, [accepted(f"child-{i}", DAY + 3600 + i * MINUTE)])
    in_time = [dm(f"child-{i}", DAY + 3600 + i * MINUTE + 10 * MINUTE) for i in range(3)]
    assert await crossed(store, in_time) == 1


async def test_messages_with_no_acceptance_of_that_pair_never_count(make_store: MakeStore) -> None:
    store = make_store()
    events = []
    for i in range(5):
        at = DAY + i * 3600
        events += [
            dm(f"stranger-{i}", at),  # nobody accepted anything
            # another adult's request was accepted: not this pair
            accepted(f"child-{i}", at, adult="adult-2"),
            dm(f"child-{i}", at + MINUTE),
            # the adult accepted the child's request: the child is the requester
            event(EventKind.CONTACT_ACCEPTED, at, subject=f"kid-{i}", other="adult-1", mutual=None),
            dm(f"kid-{i}", at + MINUTE),
        ]
    assert await crossed(store, events) == 0


async def test_a_message_before_the_acceptance_it_would_follow_does_not_count(make_store: MakeStore) -> None:
    store = make_store()
    events = [e for i in range(3) for e in (accepted(f"child-{i}", DAY + 5 * MINUTE), dm(f"child-{i}", DAY))]
    assert await crossed(store, events) == 0


async def test_an_acceptance_just_before_the_period_turns_is_still_found(make_store: MakeStore) -> None:
    # Acceptances are kept in periods of the longest `accepted_within` (10 minutes here):
    # one in the last second of a period is found by a message in the next.
    store = make_store()
    turn = (DAY // 600 + 1) * 600
    events = []
    for i in range(3):
        start = turn + i * 3600
        events += [accepted(f"child-{i}", start - 1), dm(f"child-{i}", start + 9 * MINUTE)]
    assert await crossed(store, events) == 1


async def test_messages_from_an_account_of_a_minor_or_to_an_adult_do_not_count(make_store: MakeStore) -> None:
    store = make_store()
    events = []
    for i in range(4):
        at = DAY + i * 3600
        teen = [accepted(f"child-{i}", at, adult="teen-1"), dm(f"child-{i}", at + MINUTE, adult="teen-1")]
        events += [replace(teen[0]), replace(teen[1], subject_band=AgeBand.B16_17)]
        grown = [accepted(f"friend-{i}", at), dm(f"friend-{i}", at + MINUTE)]
        events += [replace(e, other_band=AgeBand.ADULT) for e in grown]
    assert await crossed(store, events) == 0


async def test_an_acceptance_is_remembered_by_the_store_not_by_one_writer(make_store: MakeStore) -> None:
    # Two stores on one backend: the acceptance written by one, the messages by the other
    # (two workers); in memory, one store stands for one process, so both are the same one.
    first = make_store()
    second = first if isinstance(first, InProcessSignalStore) else make_store()
    for i in range(3):
        await record(first, [accepted(f"child-{i}", DAY + i * MINUTE)])
    found = [await crossed(second, [dm(f"child-{i}", DAY + (i + 5) * MINUTE)]) for i in range(3)]
    assert found == [0, 0, 1]


async def test_two_writers_crossing_together_raise_one_crossing(make_store: MakeStore) -> None:
    first = make_store()
    second = first if isinstance(first, InProcessSignalStore) else make_store()
    await record(first, [accepted(f"child-{i}", DAY) for i in range(6)])
    # Each writer messages three children at once: both batches push the count past the
    # threshold, and the store lets one of them cross.
    one = [dm(f"child-{i}", DAY + MINUTE) for i in range(3)]
    other = [dm(f"child-{i}", DAY + MINUTE) for i in range(3, 6)]
    assert await crossed(first, one) + await crossed(second, other) == 1


# --- contact at night -----------------------------------------------------------------------


def london(month: int, day: int, hour: int, minute: int = 0) -> float:
    return datetime(2027, month, day, hour, minute, tzinfo=ZoneInfo("Europe/London")).timestamp()


async def test_the_third_child_messaged_at_night_crosses_once(make_store: MakeStore) -> None:
    store = make_store()
    nights = [london(1, 12, 23, 30), london(1, 13, 2), london(1, 13, 5, 59), london(1, 13, 23)]
    found = [await crossed(store, [dm(f"child-{i}", at)], NIGHT) for i, at in enumerate(nights)]
    assert found == [0, 0, 1, 0]


async def test_messages_by_day_never_count_at_night(make_store: MakeStore) -> None:
    store = make_store()
    days = [london(1, 12, 6), london(1, 12, 12), london(1, 12, 21, 59), london(7, 12, 21, 59)]
    assert await crossed(store, [dm(f"child-{i}", at) for i, at in enumerate(days)], NIGHT) == 0


def test_the_night_is_the_zones_own_in_summer_and_in_winter() -> None:
    night = NightClock.compile(SIGNALS.night)
    # 21:30 UTC is 22:30 in London in July (BST), still 21:30 in January (GMT).
    assert night.holds(datetime(2027, 7, 12, 21, 30, tzinfo=UTC).timestamp())
    assert not night.holds(datetime(2027, 1, 12, 21, 30, tzinfo=UTC).timestamp())


def test_a_night_that_does_not_cross_midnight() -> None:
    early = NightClock.compile(Signals.model_validate({"night": {"from": "01:00", "to": "05:00"}}).night)
    assert [early.holds(datetime(2027, 1, 12, h, tzinfo=UTC).timestamp()) for h in (0, 1, 4, 5, 23)] == [
        False, True, True, False, False,
    ]


# --- the plan -------------------------------------------------------------------------------


def test_acceptances_are_remembered_for_the_longest_window_that_asks_and_only_of_minors() -> None:
    plan = SignalPlan.compile(
        Signals.model_validate(
            {
                "counts": [
                    {**SIGNALS.counts[0].model_dump(by_alias=True), "id": "short"},
                    {
                        **SIGNALS.counts[0].model_dump(by_alias=True),
                        "id": "long",
                        "where": {"other_band": ["13_15"], "accepted_within": "1h"},
                    },
                ]
            }
        )
    )
    assert plan.acceptance_memory == 3600
    assert {c.id: (c.accepted_within, c.acceptance_memory) for c in plan.counts} == {
        "short": (600, 3600), "long": (3600, 3600),
    }
    (note,) = plan.observations(accepted("child-1", DAY))
    assert isinstance(note, Acceptance) and note.memory == 3600
    assert plan.observations(replace(accepted("adult-2", DAY), other_band=AgeBand.ADULT)) == []


def test_without_a_signal_that_asks_no_acceptance_is_remembered() -> None:
    plan = SignalPlan.compile(Signals.model_validate({"counts": [SIGNALS.counts[1].model_dump(by_alias=True)]}))
    assert plan.acceptance_memory == 0
    assert plan.observations(accepted("child-1", DAY)) == []


@pytest.mark.parametrize("when", ["at_night", "accepted_within"])
def test_a_disabled_signal_asks_for_nothing(when: str) -> None:
    signals = Signals.model_validate(
        {
            "night": {"timezone": "Not/AZone"},
            "counts": [
                {**c.model_dump(by_alias=True), "enabled": False} for c in SIGNALS.counts if c.where.model_dump()[when]
            ],
        }
    )
    plan = SignalPlan.compile(signals)  # the unknown zone is never read
    assert plan.acceptance_memory == 0 and plan.counts == ()


# --- the script against the in-process store ------------------------------------------------

BUSY = SignalPlan.compile(
    Signals.model_validate(
        {
            "counts": [
                {"id": "soon", "event": "direct_message", "where": {"accepted_within": "10m"}, "window": "1h",
                 "count": "distinct_others", "threshold": 3, "reason": "r"},
                {"id": "soon-events", "event": "direct_message", "where": {"accepted_within": "4m"}, "window": "2h",
                 "threshold": 4, "reason": "r"},
                {"id": "accepted", "event": "contact_accepted", "window": "1h", "threshold": 5, "reason": "r"},
            ]
        }
    )
)


@pytest.mark.redis
@pytest.mark.parametrize("seed", range(4))
async def test_the_script_remembers_acceptances_exactly_like_the_in_process_store(
    redis_url: str, redis_prefix: str, seed: int
) -> None:
    """Acceptances and messages at random, some late (older than what came before them), in
    batches that hold both: the script finds the same acceptances in the same periods as
    the in-process store (the reference) and crosses the same signals at the same events."""
    from safe_accounts.signals.redis_store import RedisSignalStore

    from .test_redis_store import _summary

    rng = random.Random(seed)
    memory = InProcessSignalStore()
    store = RedisSignalStore(redis_url, prefix=redis_prefix)
    try:
        now = DAY
        soon = 0  # crossings of the signals that ask about acceptances
        for batch in range(60):
            events = []
            for _ in range(rng.randrange(1, 30)):
                now += rng.uniform(0, 90)
                at = now - rng.choice([0, 0, 0, rng.uniform(0, 1800)])
                kind = rng.choice([EventKind.CONTACT_ACCEPTED, EventKind.DIRECT_MESSAGE, EventKind.DIRECT_MESSAGE])
                events.append(event(kind, at, subject=f"adult-{rng.randrange(3)}", other=f"child-{rng.randrange(12)}",
                                    mutual=None, decision_id=f"d-{batch}-{len(events)}"))
            notes = [n for e in events for n in BUSY.observations(e)]
            expected = await memory.record(f"b{batch}", notes)
            assert _summary(await store.record(f"b{batch}", notes)) == _summary(expected), batch
            soon += sum(1 for c in expected if c.signal.startswith("soon"))
        assert soon > 0
    finally:
        await store.close()
