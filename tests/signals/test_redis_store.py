"""What only the Redis store has: bounded keys with TTLs, hash tags, pseudonyms in keys,
the script reloaded after a flush, and Cluster routing by slot."""

from __future__ import annotations

import random
import uuid

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from safe_accounts.errors import ConfigurationError, StorageError
from safe_accounts.policy.model import EventKind, Signals
from safe_accounts.signals import Crossing, SignalPlan
from safe_accounts.signals.memory import InProcessSignalStore
from safe_accounts.signals.pseudonyms import Pseudonyms
from safe_accounts.signals.redis_store import RedisSignalStore
from tests.redis_cluster import RedisServer

from .policies import event

pytestmark = pytest.mark.redis

AT = 1_800_000_000.0
SIGNALS = Signals.model_validate(
    {
        "counts": [
            {"id": "busy", "event": "contact_request", "window": "7d", "threshold": 100_000, "reason": "r"},
            {"id": "strangers", "event": "contact_request", "window": "24h", "count": "distinct_others",
             "threshold": 10, "reason": "r"},
        ]
    }
)
PLAN = SignalPlan.compile(SIGNALS)
BUSY, STRANGERS = PLAN.counts


async def record_spread(store: RedisSignalStore, events: int, window: int) -> None:
    step = window / events
    batch = [event(EventKind.CONTACT_REQUEST, AT + i * step, other=f"child-{i}") for i in range(events)]
    for start in range(0, events, 256):
        observations = [o for e in batch[start : start + 256] for o in PLAN.observations(e)]
        await store.record(uuid.uuid4().hex, observations)


async def test_a_signal_keeps_one_bounded_hash_with_a_ttl(redis_url: str, redis_prefix: str) -> None:
    store = RedisSignalStore(redis_url, prefix=redis_prefix)
    client = aioredis.from_url(redis_url)
    try:
        await record_spread(store, 5_000, BUSY.window)
        busy, strangers = store.key_of("adult-1", BUSY), store.key_of("adult-1", STRANGERS)
        # 61 buckets at most, 20 evidence entries, 5 bookkeeping fields: whatever the rate.
        assert await client.hlen(busy) <= 61 + 20 + 5
        # Distinct others: capped at 4x the threshold.
        assert await client.hlen(strangers) <= STRANGERS.cap + 20 + 5
        assert 0 < await client.ttl(busy) <= BUSY.window + BUSY.bucket
        assert 0 < await client.ttl(strangers) <= STRANGERS.window + STRANGERS.bucket
        fields = await client.hgetall(busy)
        assert sum(int(v) for f, v in fields.items() if not f.startswith(b"{")) == int(fields[b"{t}"])
        # The two hashes, the batch receipts, and the subject's pending crossings, indexed.
        assert len(await client.keys(f"{redis_prefix}*")) == 2 + 20 + 2
        pending = store.pending_key(Pseudonyms().of("adult-1"))
        assert await client.hlen(pending) == 7  # `strangers` crossed once in each of the 7 days
        assert STRANGERS.window <= await client.ttl(pending) <= STRANGERS.window + STRANGERS.bucket
        assert await client.zrange(store.index_key, 0, -1) == [pending.encode()]
        assert STRANGERS.window <= await client.ttl(store.index_key)  # lives as long as what it names
    finally:
        await client.aclose()
        await store.close()


async def test_keys_carry_the_subject_pseudonym_as_a_hash_tag(redis_url: str, redis_prefix: str) -> None:
    store = RedisSignalStore(redis_url, prefix=redis_prefix, pseudonyms=Pseudonyms(b"k" * 32))
    client = aioredis.from_url(redis_url)
    try:
        await record_spread(store, 3, 60)
        keys = [k.decode() for k in await client.keys(f"{redis_prefix}*")]
        assert keys and not any("adult-1" in k or "child-" in k for k in keys)
        assert len({key_slot(k.encode()) for k in keys}) == 1
        values = await client.hvals(store.key_of("adult-1", BUSY))
        assert not any(b"child-" in v for v in values)
    finally:
        await client.aclose()
        await store.close()


async def test_a_pending_crossing_names_its_subject_only_sealed(redis_url: str, redis_prefix: str) -> None:
    key = Pseudonyms(b"k" * 32)
    store = RedisSignalStore(redis_url, prefix=redis_prefix, pseudonyms=key)
    client = aioredis.from_url(redis_url)
    try:
        await record_spread(store, 10, 600)  # the 10th distinct child crosses `strangers`
        (value,) = await client.hvals(store.pending_key(key.of("adult-1")))
        assert b"adult-1" not in value and b"child-" not in value
        (crossing,) = await store.pending(PLAN, AT + 600)
        assert crossing.subject == "adult-1"
        # Read with another key, the entry is left alone rather than raised for a wrong id.
        other = RedisSignalStore(redis_url, prefix=redis_prefix, pseudonyms=Pseudonyms(b"o" * 32))
        try:
            assert await other.pending(PLAN, AT + 600) == []
        finally:
            await other.close()
    finally:
        await client.aclose()
        await store.close()


async def test_the_start_up_scan_finds_a_crossing_its_killed_writer_never_indexed(
    redis_url: str, redis_prefix: str
) -> None:
    store = RedisSignalStore(redis_url, prefix=redis_prefix)
    client = aioredis.from_url(redis_url)
    try:
        await record_spread(store, 10, 600)
        await client.delete(store.index_key)  # as if killed between the script and the index write
        assert await store.pending(PLAN, AT + 600) == []
        (crossing,) = await store.pending(PLAN, AT + 600, scan=True)
        assert crossing.signal == "strangers"
        assert len(await store.pending(PLAN, AT + 600)) == 1  # indexed again by the scan
        assert await client.ttl(store.index_key) > 0
    finally:
        await client.aclose()
        await store.close()


async def test_an_acknowledged_subject_leaves_the_index_on_the_next_pass(
    redis_url: str, redis_prefix: str
) -> None:
    store = RedisSignalStore(redis_url, prefix=redis_prefix)
    client = aioredis.from_url(redis_url)
    try:
        await record_spread(store, 10, 600)
        await store.acknowledge(await store.pending(PLAN, AT + 600))
        assert await store.pending(PLAN, AT + 600) == []
        assert await client.zcard(store.index_key) == 0
    finally:
        await client.aclose()
        await store.close()


async def test_the_script_is_loaded_again_after_a_flush(spare_redis: RedisServer) -> None:
    store = RedisSignalStore(spare_redis.url, prefix="flush:")
    client = aioredis.from_url(spare_redis.url)
    try:
        await record_spread(store, 3, 60)
        await client.script_flush()
        await record_spread(store, 3, 60)
        assert int(await client.hget(store.key_of("adult-1", BUSY), "{t}")) == 6
    finally:
        await client.aclose()
        await store.close()


async def test_an_unreachable_server_is_a_storage_error() -> None:
    store = RedisSignalStore("redis://127.0.0.1:1/0", socket_timeout=0.5)
    with pytest.raises(StorageError, match=r"reaching Redis at .* failed"):
        await store.start()
    await store.close()


def test_a_prefix_with_braces_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="braces"):
        RedisSignalStore("redis://127.0.0.1:6379/0", prefix="{app}:")


@pytest.mark.cluster
async def test_a_batch_across_subjects_is_cut_by_slot_on_a_cluster(redis_cluster_url: str) -> None:
    prefix = f"satest:{uuid.uuid4().hex[:8]}:"
    store = RedisSignalStore(redis_cluster_url, prefix=prefix)
    try:
        events = [
            event(EventKind.CONTACT_REQUEST, AT + i, subject=f"adult-{i % 40}", other=f"child-{i}")
            for i in range(400)
        ]
        await store.record("b1", [o for e in events for o in PLAN.observations(e)])
        assert store.backend == "redis-cluster"
        client = await store.client()
        slots = {key_slot(store.key_of(f"adult-{s}", BUSY).encode()) for s in range(40)}
        assert len(slots) > 3  # really spread over the cluster
        for s in range(40):
            assert int(await client.hget(store.key_of(f"adult-{s}", BUSY), "{t}")) == 10
    finally:
        await store.close()


# A policy whose windows slide within a few hours, so that a random workload moves floors,
# evicts distinct others (16 others, a cap of 12), re-alerts and checks a rate, inside
# batches as well as between them.
BUSY_POLICY = Signals.model_validate(
    {
        "counts": [
            {"id": "requests", "event": "contact_request", "window": "2h", "threshold": 6, "reason": "r"},
            {"id": "strangers", "event": "contact_request", "window": "1h", "count": "distinct_others",
             "threshold": 3, "reason": "r"},
            {"id": "rejected", "event": "contact_rejected", "window": "3h", "threshold": 5, "reason": "r"},
        ],
        "rates": [
            {"id": "rejection-rate", "numerator": "rejected", "denominator": "requests", "min_denominator": 4,
             "threshold": 0.5, "reason": "r"},
        ],
    }
)


def _summary(crossings: list[Crossing]) -> list[tuple[object, ...]]:
    """What a crossing says, as both stores can say it: Redis keeps evidence times to the
    second (so a rate's two lists, merged by time, may tie), and orders a batch's crossings
    by time alone."""

    def evidence(c: Crossing) -> list[tuple[object, ...]]:
        items = [(e.kind, e.other, e.other_band, e.mutual, int(e.at)) for e in c.evidence]
        return sorted(items) if c.kind == "rate" else items

    return sorted(
        (c.at, c.kind, c.signal, c.subject, c.window_key, sorted(c.counts.items()), evidence(c))
        for c in crossings
    )


@pytest.mark.parametrize("seed", range(4))
async def test_the_script_counts_and_crosses_exactly_like_the_in_process_store(
    redis_url: str, redis_prefix: str, seed: int
) -> None:
    """The script keeps a hash's state in Lua between its one read and its one write: out of
    order events, several buckets in one call and floors moving mid-batch must still count
    exactly as the in-process store (the reference) does."""
    rng = random.Random(seed)
    plan = SignalPlan.compile(BUSY_POLICY)
    memory = InProcessSignalStore()
    store = RedisSignalStore(redis_url, prefix=redis_prefix)
    try:
        now = AT
        for batch in range(60):
            events = []
            for _ in range(rng.randrange(1, 40)):
                now += rng.uniform(0, 120)
                at = now - rng.choice([0, 0, 0, rng.uniform(0, 3 * 3600)])  # some late, some very late
                kind = rng.choice([EventKind.CONTACT_REQUEST, EventKind.CONTACT_REQUEST, EventKind.CONTACT_REJECTED])
                events.append(event(kind, at, subject=f"adult-{rng.randrange(3)}", other=f"child-{rng.randrange(16)}",
                                    decision_id=f"d-{batch}-{len(events)}"))
            observations = [o for e in events for o in plan.observations(e)]
            expected = await memory.record(f"b{batch}", observations)
            assert _summary(await store.record(f"b{batch}", observations)) == _summary(expected), batch
        client = await store.client()
        for subject in ("adult-0", "adult-1", "adult-2"):
            for spec in plan.counts:
                fields = await client.hgetall(store.key_of(subject, spec))
                if fields and not spec.distinct:  # the running total is the buckets' sum
                    buckets = [int(v) for f, v in fields.items() if not f.startswith(b"{")]
                    assert sum(buckets) == int(fields[b"{t}"])
    finally:
        await store.close()


def test_pseudonyms_and_seals_are_memoised_within_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    from safe_accounts.signals import redis_store

    monkeypatch.setattr(redis_store, "MEMO_SIZE", 3)
    pseudonyms = Pseudonyms(b"k" * 16)
    store = RedisSignalStore("redis://127.0.0.1:6379/0", pseudonyms=pseudonyms)
    sealed = store.sealed("adult-1")
    assert store.sealed("adult-1") == sealed and pseudonyms.unseal(sealed) == "adult-1"
    assert store.name_of("adult-1") == pseudonyms.of("adult-1")
    for i in range(10):
        assert store.name_of(f"adult-{i}") == pseudonyms.of(f"adult-{i}")
        assert pseudonyms.unseal(store.sealed(f"adult-{i}")) == f"adult-{i}"
    assert len(store._names) <= 3 and len(store._seals) <= 3  # noqa: SLF001 - the memos are the subject
