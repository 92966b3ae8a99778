"""Risk scores (`signals.scores`), on every store: after a batch is recorded, each subject it
counted under a score's parts is scored on the parts' current values; at the threshold (not
below it) the score crosses, once per window in a worker, with each part's value, weight and
contribution as its evidence. Reading the parts is one round trip for the whole batch."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest

from safe_accounts.errors import StorageError
from safe_accounts.policy.model import EventKind, Signals
from safe_accounts.signals import CountSpec, Crossing, Event, SignalPlan, SignalRecorder
from safe_accounts.signals.memory import InProcessSignalStore
from safe_accounts.signals.scoring import Scorer
from safe_accounts.signals.store import SignalStore

from .conftest import MakeStore
from .policies import event

SCORE = "grooming-risk"
SIGNALS = Signals.model_validate(
    {
        "counts": [
            {
                "id": "rejections",
                "event": "contact_rejected",
                "where": {"other_band": ["minor"]},
                "window": "7d",
                "count": "distinct_others",
                "alert": False,
                "reason": "rejected by minors",
            },
            {
                "id": "requests",
                "event": "contact_request",
                "where": {"other_band": ["minor"]},
                "window": "7d",
                "count": "distinct_others",
                "alert": False,
                "reason": "requests to minors",
            },
            {
                "id": "blocks",
                "event": "blocked",
                "where": {"other_band": ["minor"]},
                "window": "30d",
                "alert": False,
                "reason": "blocked by minors",
            },
            {"id": "reports", "event": "reported", "window": "30d", "alert": False, "reason": "reported"},
        ],
        "rates": [
            {
                "id": "rejection-rate",
                "numerator": "rejections",
                "denominator": "requests",
                "min_denominator": 4,
                "threshold": 0.9,
                "reason": "most requests rejected",
            },
        ],
        "scores": [
            {
                "id": SCORE,
                "threshold": 1.0,
                "reason": "weak signals together",
                "escalate": {"restrict": True},
                "parts": [
                    {"signal": "rejections", "weight": 0.25},
                    {"signal": "rejection-rate", "weight": 0.5},
                    {"signal": "blocks", "weight": 0.3},
                ],
            },
        ],
    }
)
PLAN = SignalPlan.compile(SIGNALS)
AT = 1_800_000_000.0


async def scored(store: SignalStore, events: list[Event], scorer: Scorer | None = None) -> list[Crossing]:
    """Record `events` as one batch, then score it (what the recorder does)."""
    notes = [note for e in events for note in PLAN.observations(e)]
    crossings = await store.record(uuid.uuid4().hex, notes)
    return crossings + await (scorer or Scorer(PLAN, store)).evaluate(notes)


def rejected(i: int, subject: str = "adult-1") -> Event:
    return event(EventKind.CONTACT_REJECTED, AT + i, subject=subject, other=f"child-{i}", decision_id=f"d{i}")


def blocked(i: int, subject: str = "adult-1") -> Event:
    return event(EventKind.BLOCKED, AT + i, subject=subject, other=f"child-b{i}")


async def test_below_the_threshold_nothing_crosses(make_store: MakeStore) -> None:
    store = make_store()
    assert await scored(store, [rejected(0), rejected(1), blocked(2)]) == []  # 2 x 0.25 + 0.3 = 0.8


async def test_the_score_crosses_at_its_threshold_once_in_a_worker(make_store: MakeStore) -> None:
    store = make_store()
    scorer = Scorer(PLAN, store)
    assert await scored(store, [rejected(0), rejected(1), rejected(2)], scorer) == []  # 0.75
    # Four rejections: exactly 1.0, the threshold.
    (crossing,) = await scored(store, [rejected(3)], scorer)
    assert (crossing.kind, crossing.signal, crossing.subject) == ("score", SCORE, "adult-1")
    assert crossing.counts == {"score": 1.0, "threshold": 1.0}
    assert crossing.restrict and crossing.reason == "weak signals together" and crossing.decision_id == "d3"
    assert crossing.window_key.startswith(f"{30 * 86400}:")  # the longest part's window
    # Later events of the window add to the score, not to the crossings.
    assert await scored(store, [rejected(4), blocked(5)], scorer) == []


async def test_each_part_s_value_weight_and_contribution_are_the_evidence(make_store: MakeStore) -> None:
    store = make_store()
    (crossing,) = await scored(store, [rejected(0), rejected(1), blocked(2), blocked(3)])  # 0.5 + 0.6
    assert crossing.counts == {"score": 1.1, "threshold": 1.0}
    assert [item.to_json() for item in crossing.evidence] == [
        {
            "kind": "score_part",
            "signal": "blocks",
            "value": 2.0,
            "weight": 0.3,
            "contribution": 0.6,
            "other": None,
            "other_band": None,
            "mutual": None,
            "at": AT + 3,
        },
        {
            "kind": "score_part",
            "signal": "rejections",
            "value": 2.0,
            "weight": 0.25,
            "contribution": 0.5,
            "other": None,
            "other_band": None,
            "mutual": None,
            "at": AT + 3,
        },
        {
            "kind": "score_part",
            "signal": "rejection-rate",
            "value": 0.0,
            "weight": 0.5,
            "contribution": 0.0,
            "other": None,
            "other_band": None,
            "mutual": None,
            "at": AT + 3,
        },
    ]


async def test_a_rate_part_counts_from_its_min_denominator(make_store: MakeStore) -> None:
    store = make_store()
    asked = [event(EventKind.CONTACT_REQUEST, AT + i, other=f"child-{i}") for i in range(4)]
    # Two of four requests rejected: 2 x 0.25 + 0.5 x 0.5 = 0.75, below.
    assert await scored(store, [*asked[:3], rejected(0), rejected(1)]) == []  # three asked: no rate yet
    assert await scored(store, [asked[3]]) == []
    # A third rejection: 0.75 + 0.75 x 0.5 = 1.125.
    (crossing,) = await scored(store, [rejected(2)])
    parts = {item.to_json()["signal"]: item.to_json() for item in crossing.evidence}
    assert parts["rejection-rate"]["value"] == 0.75 and parts["rejection-rate"]["contribution"] == 0.375
    assert crossing.counts["score"] == 1.125


async def test_events_no_part_counts_are_not_scored(make_store: MakeStore) -> None:
    store = make_store()
    scorer = Scorer(PLAN, store)
    reports = [event(EventKind.REPORTED, AT + i, other=f"c{i}") for i in range(10)]
    assert scorer.subjects([n for e in reports for n in PLAN.observations(e)]) == {}
    assert await scored(store, reports, scorer) == []


async def test_each_subject_is_scored_on_its_own_counts(make_store: MakeStore) -> None:
    store = make_store()
    events = [rejected(i, "adult-1") for i in range(4)] + [rejected(i, "adult-2") for i in range(3)]
    assert [c.subject for c in await scored(store, events)] == ["adult-1"]


async def test_a_subject_scored_twice_in_a_batch_is_read_once_at_its_latest_event(make_store: MakeStore) -> None:
    store = make_store()
    notes = [n for e in [rejected(0), rejected(9), rejected(4)] for n in PLAN.observations(e)]
    assert Scorer(PLAN, store).subjects(notes) == {"adult-1": (AT + 9, "d9")}


async def test_the_parts_are_read_in_one_call_that_agrees_with_count(make_store: MakeStore) -> None:
    store = make_store()
    await scored(store, [rejected(0), rejected(1), blocked(2)])
    wanted = [("adult-1", count, AT + 3) for part in PLAN.scores[0].parts for count in part.counts]
    one_by_one = [await store.count(subject, spec, at) for subject, spec, at in wanted]
    assert await store.counts(wanted) == one_by_one == [2, 2, 0, 1]
    assert await store.counts([]) == []


async def test_a_new_window_may_cross_again(make_store: MakeStore) -> None:
    store = make_store()
    scorer = Scorer(PLAN, store)
    assert len(await scored(store, [rejected(i) for i in range(4)], scorer)) == 1
    later = 31 * 86400  # past every part's window, and the score's
    assert len(await scored(store, [rejected(later + i) for i in range(4)], scorer)) == 1


async def test_two_workers_may_each_offer_the_crossing_once(make_store: MakeStore) -> None:
    # Nothing is written for a score: two workers reading the shared counts may both see it
    # cross. Each offers it once per window; the alert store keeps one alert per account
    # (tests/middleware/test_risk_scores.py).
    first = make_store()
    second = first if isinstance(first, InProcessSignalStore) else make_store()
    one, other = Scorer(PLAN, first), Scorer(PLAN, second)
    await scored(first, [rejected(0), rejected(1)], one)
    assert len(await scored(second, [rejected(2), rejected(3)], other)) == 1
    assert len(await scored(first, [rejected(4)], one)) == 1
    assert await scored(first, [rejected(5)], one) == await scored(second, [rejected(6)], other) == []


class FailsOnce(InProcessSignalStore):
    """A store whose first read of the parts fails (a Redis time-out, say)."""

    failed = False

    async def counts(self, wanted: Sequence[tuple[str, CountSpec, float]]) -> list[int]:
        if not self.failed:
            self.failed = True
            raise StorageError("Redis timed out")
        return await super().counts(wanted)


async def test_a_score_that_could_not_be_read_is_read_at_the_subject_s_next_event() -> None:
    # Nothing is written for a score, so nothing is lost with a failed read, or a worker
    # that dies before scoring: the next event reads the same counts, and more.
    store = FailsOnce()
    scorer = Scorer(PLAN, store)
    with pytest.raises(StorageError):
        await scored(store, [rejected(i) for i in range(4)], scorer)
    (crossing,) = await scored(store, [rejected(4)], scorer)
    assert crossing.counts["score"] == 1.25


async def test_the_recorder_scores_after_writing_and_keeps_a_batch_it_could_not_score() -> None:
    raised: list[Crossing] = []

    async def on_crossing(crossing: Crossing) -> None:
        raised.append(crossing)

    store = FailsOnce()
    recorder = SignalRecorder(store, SIGNALS, on_crossing=on_crossing, flush_interval=0.01)
    for i in range(4):
        recorder.submit(rejected(i))
    await recorder.flush()
    assert raised == [] and recorder.health()["recorded"] == 4  # written, not scored
    recorder.submit(rejected(4))
    await recorder.flush()
    assert [(c.kind, c.signal, c.counts["score"]) for c in raised] == [("score", SCORE, 1.25)]
    assert recorder.health()["crossings"] == 1
    await recorder.close()
