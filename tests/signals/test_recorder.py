"""The recorder: off the request path, batched, in order, and lossless through an outage."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

import pytest
import redis.asyncio as aioredis

from safe_accounts.clock import FrozenClock
from safe_accounts.db.bulk_insert import bounded
from safe_accounts.db.metadata import ACCOUNT_ID_LENGTH
from safe_accounts.errors import StorageError
from safe_accounts.policy.model import EventKind, Signals
from safe_accounts.signals import Crossing, Event, Observation, SignalRecorder
from safe_accounts.signals.memory import InProcessSignalStore
from safe_accounts.signals.recorder import (
    CROSSING_HANDLER_FAILED,
    EVENTS_LOST_AT_CLOSE,
    SPOOL_OVERFLOW,
    STORE_UNREACHABLE,
)
from safe_accounts.signals.redis_store import RedisSignalStore
from tests.redis_cluster import RedisServer

from .conftest import MakeStore
from .policies import BASELINE_LIKE, event

AT = FrozenClock().now()
DAY = 86400.0
TALLY = Signals.model_validate(
    {
        "counts": [
            # Never alerts: its bucket counts are the tally of every event written.
            {"id": "tally", "event": "reported", "window": "30d", "threshold": 1_000_000, "reason": "tally"},
            {"id": "reported", "event": "reported", "window": "30d", "threshold": 150, "reason": "r",
             "escalate": {"restrict": True}},
        ]
    }
)


class BatchLog(InProcessSignalStore):
    """The in-process store, remembering the size of each batch it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    async def record(self, batch_id: str, observations: Sequence[Observation]) -> list[Crossing]:
        self.batches.append(len(observations))
        return await super().record(batch_id, observations)


class WriteLog(InProcessSignalStore):
    """The in-process store, remembering each write's events in order; writes can be held
    on the wire (`gate`) or made to fail as in an outage (`failures`)."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[Event] = []
        self.on_the_wire = 0
        self.most_on_the_wire = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.failures = 0

    async def record(self, batch_id: str, observations: Sequence[Observation]) -> list[Crossing]:
        self.on_the_wire += 1
        self.most_on_the_wire = max(self.most_on_the_wire, self.on_the_wire)
        try:
            await self.gate.wait()
            if self.failures:
                self.failures -= 1
                raise StorageError("down")
        finally:
            self.on_the_wire -= 1
        self.written += [o.event for o in observations]
        return await super().record(batch_id, observations)


def _subjects_events(subjects: int, each: int) -> list[Event]:
    """`each` events of every subject, interleaved, at increasing times."""
    return [
        event(EventKind.BLOCKED, AT + i * subjects + s, subject=f"adult-{s}", other=f"child-{i}")
        for i in range(each) for s in range(subjects)
    ]


def _in_order_per_subject(written: list[Event]) -> bool:
    by_subject: dict[str, list[float]] = {}
    for e in written:
        by_subject.setdefault(e.subject, []).append(e.at)
    return all(times == sorted(times) for times in by_subject.values())


async def test_two_writers_share_the_subjects_and_keep_each_subjects_order() -> None:
    store = WriteLog()
    recorder = SignalRecorder(store, BASELINE_LIKE, on_crossing=_ignore, batch_size=4)
    events = _subjects_events(subjects=40, each=3)  # 40 subjects: both writers get some
    for e in events:
        recorder.submit(e)
    store.gate.clear()
    writing = asyncio.create_task(recorder.flush())
    for _ in range(100):
        await asyncio.sleep(0)
    assert store.on_the_wire == 2  # one batch from each writer
    store.gate.set()
    await writing
    assert sorted(store.written, key=lambda e: e.at) == events  # every event, once
    assert _in_order_per_subject(store.written)
    assert recorder.health()["recorded"] == 120 and recorder.health()["queued"] == 0


async def test_one_writer_writes_everything_in_submission_order() -> None:
    store = WriteLog()
    recorder = SignalRecorder(store, BASELINE_LIKE, on_crossing=_ignore, batch_size=4, writers=1)
    events = _subjects_events(subjects=10, each=6)
    for e in events:
        recorder.submit(e)
    await recorder.flush()
    assert store.written == events and store.most_on_the_wire == 1


async def test_ids_longer_than_our_tables_keep_are_counted_and_crossed_bounded() -> None:
    # Only an id no request supplied gets here (a requester an app's answer names): counted
    # under the form the decision log writes, so its alert is one SQL can store.
    store = WriteLog()
    crossings: list[Crossing] = []

    async def keep(crossing: Crossing) -> None:
        crossings.append(crossing)

    recorder = SignalRecorder(store, BASELINE_LIKE, on_crossing=keep)
    long_subject, long_other = "s" * 100_000, "o" * (ACCOUNT_ID_LENGTH + 1)
    blocks = [
        event(EventKind.BLOCKED, AT + i, subject=long_subject, other=other)
        for i, other in enumerate([long_other, "child-2", "child-3"])
    ]
    for e in blocks:
        recorder.submit(e)
    await recorder.flush()
    kept = bounded(long_subject, ACCOUNT_ID_LENGTH)
    assert {e.subject for e in store.written} == {kept}
    assert store.written[0].other == bounded(long_other, ACCOUNT_ID_LENGTH)
    assert [e.other for e in store.written[1:]] == ["child-2", "child-3"]
    assert [c.subject for c in crossings] == [kept]


async def test_a_failed_batch_is_written_again_before_anything_after_it() -> None:
    store = WriteLog()
    recorder = SignalRecorder(store, BASELINE_LIKE, on_crossing=_ignore, batch_size=4)
    events = _subjects_events(subjects=40, each=3)
    for e in events:
        recorder.submit(e)
    store.failures = 2  # the first batch of each writer
    await recorder.flush()  # both fail: the flush stops there
    assert store.written == [] and recorder.health()["queued"] == 120
    assert recorder.health()["store_reachable"] is False
    await recorder.flush()
    assert sorted(store.written, key=lambda e: e.at) == events
    assert _in_order_per_subject(store.written)
    assert recorder.health()["recorded"] == 120 and recorder.health()["store_reachable"] is True


async def test_events_on_the_wire_are_reported_lost_when_close_gives_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = WriteLog()
    recorder = SignalRecorder(store, BASELINE_LIKE, on_crossing=_ignore, batch_size=4, close_timeout=0.05)
    for e in _subjects_events(subjects=2, each=4):
        recorder.submit(e)
    store.failures = 1_000
    with caplog.at_level(logging.ERROR):
        await recorder.close()
    assert EVENTS_LOST_AT_CLOSE % 8 in caplog.text


async def test_submit_queues_without_io_and_flush_writes_in_batches() -> None:
    store = BatchLog()
    crossings: list[Crossing] = []

    async def on_crossing(c: Crossing) -> None:
        crossings.append(c)

    recorder = SignalRecorder(store, BASELINE_LIKE, on_crossing=on_crossing, batch_size=4)
    for i in range(10):
        recorder.submit(event(EventKind.CONTACT_REJECTED, AT + i, other=f"child-{i}"))
    assert store.batches == [] and recorder.health()["queued"] == 10
    await recorder.flush()
    # Each rejection of a minor counts under one signal: one observation per event.
    assert store.batches == [4, 4, 2]
    assert [c.signal for c in crossings] == ["rejected-by-minors"]
    assert recorder.health() | {"last_error_at": None} == {
        "backend": "memory", "queued": 0, "spooled": 0, "overflowed": 0, "rejected": 0,
        "recorded": 10, "submitted": {"contact_rejected": 10},
        "crossings": 1, "crossings_pending": 0, "crossings_recovered": 0,
            "store_reachable": True,
        "last_error": None, "last_error_at": None, "persistence": None,
    }


async def test_events_the_filters_refuse_never_reach_the_store() -> None:
    store = BatchLog()
    recorder = SignalRecorder(store, BASELINE_LIKE, on_crossing=_ignore)
    recorder.submit(event(EventKind.CONTACT_ACCEPTED, AT))  # no signal counts acceptances
    await recorder.flush()
    assert store.batches == [] and recorder.health()["recorded"] == 1


async def test_the_background_writer_flushes_on_its_own() -> None:
    store = BatchLog()
    recorder = SignalRecorder(store, BASELINE_LIKE, on_crossing=_ignore, flush_interval=0.01)
    await recorder.start()
    try:
        recorder.submit(event(EventKind.BLOCKED, AT))
        for _ in range(500):
            if recorder.health()["recorded"] == 1:
                break
            await asyncio.sleep(0.01)
        assert recorder.health()["recorded"] == 1
    finally:
        await recorder.close()


async def test_beyond_the_spool_limit_events_are_dropped_counted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = SignalRecorder(InProcessSignalStore(), BASELINE_LIKE, on_crossing=_ignore, spool_limit=5)
    with caplog.at_level(logging.ERROR):
        for i in range(8):
            recorder.submit(event(EventKind.BLOCKED, AT + i))
    assert recorder.health()["queued"] == 5
    assert recorder.health()["overflowed"] == 3
    assert [r.getMessage() for r in caplog.records] == [SPOOL_OVERFLOW]  # once per overflow, not per event
    await recorder.close()
    assert recorder.health()["recorded"] == 5


async def test_a_failing_alert_handler_gets_the_crossing_again_and_the_failure_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handed: list[str] = []
    failures = [RuntimeError("database down")]

    async def on_crossing(c: Crossing) -> None:
        if failures:
            raise failures.pop()
        handed.append(c.signal)

    recorder = SignalRecorder(InProcessSignalStore(), BASELINE_LIKE, on_crossing=on_crossing)
    for i in range(2):
        recorder.submit(event(EventKind.REPORTED, AT + i, other=f"child-{i}"))
    with caplog.at_level(logging.ERROR, logger="safe_accounts.signals.recorder"):
        await recorder.flush()
    assert handed == [] and recorder.health()["crossings_pending"] == 1
    [logged] = caplog.records
    assert logged.getMessage() == CROSSING_HANDLER_FAILED and logged.exc_info is not None
    assert str(logged.exc_info[1]) == "database down"  # the handler's own error, with its traceback
    caplog.clear()
    await recorder.flush()
    assert handed == ["reported-by-minors"] and recorder.health()["crossings_pending"] == 0
    assert caplog.records == []


async def _refuse(c: Crossing) -> None:
    raise RuntimeError("database down")


def _reports(recorder: SignalRecorder, subject: str = "adult-1") -> None:
    for i in range(2):  # reported by two minors: `reported-by-minors` crosses
        recorder.submit(event(EventKind.REPORTED, AT + i, subject=subject, other=f"child-{i}"))


async def test_a_crossing_whose_alert_is_stored_is_acknowledged(make_store: MakeStore) -> None:
    store = make_store()
    handed: list[Crossing] = []
    recorder = SignalRecorder(store, BASELINE_LIKE, on_crossing=_collect(handed))
    _reports(recorder)
    await recorder.flush()
    assert [c.signal for c in handed] == ["reported-by-minors"]
    assert await store.pending(recorder.plan, AT + DAY) == []


async def test_a_new_worker_raises_the_crossing_a_killed_worker_left_pending(make_store: MakeStore) -> None:
    store = make_store()
    dying = SignalRecorder(store, BASELINE_LIKE, on_crossing=_refuse)  # SQL down
    _reports(dying)
    await dying.flush()
    assert dying.health()["crossings_pending"] == 1  # then SIGKILL: never closed

    handed: list[Crossing] = []
    # Another process on the same Redis; the in-process store can only be shared in-process.
    again = store if store.backend == "memory" else make_store()
    worker = SignalRecorder(again, BASELINE_LIKE, on_crossing=_collect(handed), clock=FrozenClock())
    await worker.start()
    try:
        await worker.flush()
        assert [(c.subject, c.signal) for c in handed] == [("adult-1", "reported-by-minors")]
        assert worker.health()["crossings_recovered"] == 1
        assert await again.pending(worker.plan, AT + DAY) == []  # acknowledged
    finally:
        await worker.close()


async def test_a_recovery_pass_after_start_up_leaves_recent_crossings_to_their_worker() -> None:
    store = InProcessSignalStore()
    clock = FrozenClock()
    worker = SignalRecorder(store, BASELINE_LIKE, on_crossing=_ignore, clock=clock, recovery_grace=10)
    assert await worker.recover() == 0  # the start-up pass
    other = SignalRecorder(store, BASELINE_LIKE, on_crossing=_refuse)
    _reports(other)
    await other.flush()  # crossed at AT + 1
    clock.set(AT + 5)
    assert await worker.recover() == 0  # its own worker may be acknowledging it right now
    clock.set(AT + 12)
    assert await worker.recover() == 1


async def test_recovery_never_queues_a_crossing_the_worker_already_holds() -> None:
    recorder = SignalRecorder(InProcessSignalStore(), BASELINE_LIKE, on_crossing=_refuse)
    _reports(recorder)
    await recorder.flush()
    assert await recorder.recover() == 0
    assert recorder.health()["crossings_pending"] == 1


def _collect(handed: list[Crossing]) -> Callable[[Crossing], Awaitable[None]]:
    async def on_crossing(c: Crossing) -> None:
        handed.append(c)

    return on_crossing


async def test_close_writes_what_is_queued() -> None:
    store = BatchLog()
    recorder = SignalRecorder(store, BASELINE_LIKE, on_crossing=_ignore)
    await recorder.start()
    recorder.submit(event(EventKind.BLOCKED, AT))
    await recorder.close()
    assert recorder.health()["recorded"] == 1
    recorder.submit(event(EventKind.BLOCKED, AT))  # after close: refused, counted, no exception
    assert recorder.health()["overflowed"] == 1


@pytest.mark.redis
async def test_redis_restarted_mid_run_loses_no_event_and_duplicates_no_alert(
    spare_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisSignalStore(spare_redis.url, prefix="restart:", socket_timeout=0.5)
    crossings: list[Crossing] = []

    async def on_crossing(c: Crossing) -> None:
        crossings.append(c)

    recorder = SignalRecorder(store, TALLY, on_crossing=on_crossing, batch_size=32, flush_interval=0.01)
    await recorder.start()
    at = iter(range(300))

    def submit(n: int) -> None:
        for _ in range(n):
            i = next(at)
            recorder.submit(event(EventKind.REPORTED, AT + i, other=f"child-{i}"))

    submit(100)
    await recorder.flush()
    assert recorder.health()["recorded"] == 100

    spare_redis.stop()
    with caplog.at_level(logging.ERROR):
        submit(100)  # the threshold (150) is crossed while Redis is down
        await recorder.flush()
    health = recorder.health()
    assert health["store_reachable"] is False and health["spooled"] == 100
    assert health["last_error"]
    assert STORE_UNREACHABLE.split(":")[0] in caplog.text
    assert crossings == []

    spare_redis.start()
    submit(100)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    # The recorder offers no event for "drained"; its health is what a caller can watch.
    while recorder.health()["queued"] and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    await recorder.close()

    health = recorder.health()
    assert (health["recorded"], health["queued"], health["overflowed"]) == (300, 0, 0)
    assert [c.signal for c in crossings] == ["reported"]
    assert crossings[0].counts["count"] == 150  # replayed in order: crossed at the 150th
    client = aioredis.from_url(spare_redis.url)
    try:
        tally_key = next(k for k in await client.keys("restart:*tally*:n"))
        buckets = {f: v for f, v in (await client.hgetall(tally_key)).items() if not f.startswith(b"{")}
        assert sum(int(v) for v in buckets.values()) == 300
    finally:
        await client.aclose()


async def _ignore(_: Crossing) -> None:
    pass
