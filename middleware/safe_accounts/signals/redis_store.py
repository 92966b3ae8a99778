"""The Redis signal store: one Lua script call per batch (per Cluster slot).

Keys: one hash per (subject, signal), `{prefix}{{subject}}:{signal}/{window}:n` (bucket
counts) or `...:d` (distinct others), which also holds the signal's evidence ring and
alerted marker (and the marker of a rate built on it) - see record.lua; and
`{prefix}{{subject}}:batch:{id}` (a batch's receipt); `{prefix}{{subject}}:pending` (the
subject's crossings not yet acknowledged, written by the script that detects them). The
subject between braces is a Cluster hash tag: all of one subject's keys share a slot, so a
batch is cut by slot and each piece is one atomic script call on the node that owns it.

`{prefix}{{subject}}:accepted/{memory}:{period}` holds the acceptances a signal with
`accepted_within` asks about (other -> time), one hash per fixed period (record.lua).

`{prefix}{pending}:index` (its own slot) is a sorted set of the pending hashes, scored by
the crossing's time: a recovery pass reads it instead of scanning the keyspace. It is
written right after the script, so a writer killed in between leaves a pending hash the
index does not name; the one-off scan at start-up finds those.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from importlib import resources
from typing import Any

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from ..config import without_password
from ..errors import ConfigurationError, storage_errors
from .crossing import Crossing
from .evidence import EvidenceItem, encode_evidence
from .persistence import Persistence, persistence_of
from .persistence import report as report_persistence
from .plan import Acceptance, CountSpec, Note, Observation, RateSpec, SignalPlan
from .pseudonyms import Pseudonyms, UnreadableSeal
from .store import DEFAULT_PREFIX, EVIDENCE_KEPT, crossing_of, pending_field, spec_named

logger = logging.getLogger(__name__)

SCRIPT = resources.files(__package__).joinpath("record.lua").read_text()
RECEIPT_TTL = 600  # seconds a batch's answer is kept for a replay
MEMO_SIZE = 65_536  # account ids whose pseudonym (and seal) are kept at hand
SCRIPT_RELOADED = "signal script was not on the Redis server (restarted or failed over): loaded it again"
PENDING_UNREADABLE = "a pending crossing in %s cannot be read (another pseudonym key?): left to expire"
SCAN_PAGE = 1000  # keys asked for per SCAN call at start-up


class RedisSignalStore:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        pseudonyms: Pseudonyms | None = None,
        evidence_kept: int = EVIDENCE_KEPT,
        cluster: bool | None = None,
        socket_timeout: float = 2.0,
    ) -> None:
        if "{" in prefix or "}" in prefix:
            raise ConfigurationError(f"the Redis key prefix {prefix!r} must not contain braces")
        self._url = url
        self._prefix = prefix
        self._pseudonyms = pseudonyms or Pseudonyms()
        # Account id -> pseudonym, and -> sealed: an HMAC per id per event, and a seal per
        # subject per batch, cost more than the rest of building a batch. A seal is an
        # encryption with a random nonce; handing the same one out for an account again
        # tells nothing that its pseudonym, in the same key name, does not.
        self._names: dict[str, str] = {}
        self._seals: dict[str, str] = {}
        self._evidence_kept = evidence_kept
        self._cluster = cluster
        self._timeout = socket_timeout
        self._client: Redis | RedisCluster | None = None
        self._sha: str | None = None
        self._starting = asyncio.Lock()  # concurrent first writes must not each connect
        self.backend = "redis"
        # Whether the server keeps our windows across its restarts: asked on connecting.
        self.persistence: Persistence | None = None

    # --- connection -----------------------------------------------------------------

    async def start(self) -> None:
        """Connect, find out whether this is a Cluster, load the script. Raises StorageError."""
        async with self._starting:
            if self._client is None:
                self._client = await self._connect()

    async def _connect(self) -> Redis | RedisCluster:
        options: dict[str, Any] = {
            "socket_timeout": self._timeout,
            "socket_connect_timeout": self._timeout,
        }
        with storage_errors(f"reaching Redis at {self._url}"):
            if self._cluster is None:
                probe = Redis.from_url(self._url, **options)
                try:
                    info = await probe.info("cluster")
                finally:
                    await probe.aclose()
                self._cluster = bool(info.get("cluster_enabled"))
            client: Redis | RedisCluster
            if self._cluster:
                client = RedisCluster.from_url(self._url, **options)
                await client.initialize()
                self.backend = "redis-cluster"
            else:
                client = Redis.from_url(self._url, **options)
            try:
                self._sha = await client.script_load(SCRIPT)
            except BaseException:
                await client.aclose()
                raise
            # Every primary of a Cluster holds a share of the keys: each must keep it.
            self.persistence = await persistence_of(client, every_primary=bool(self._cluster))
        report_persistence(self.persistence, without_password(self._url))
        return client

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def client(self) -> Redis | RedisCluster:
        await self.start()
        assert self._client is not None
        return self._client

    # --- keys -----------------------------------------------------------------------

    def _key(self, subject: str, name: str, part: str) -> str:
        return f"{self._prefix}{{{subject}}}:{name}:{part}"

    def name_of(self, account_id: str) -> str:
        """An account id as it appears in keys and evidence (its pseudonym), memoised."""
        name = self._names.get(account_id)
        if name is None:
            if len(self._names) >= MEMO_SIZE:
                self._names.clear()  # cheaper than an LRU, and the next batches refill it
            name = self._names[account_id] = self._pseudonyms.of(account_id)
        return name

    def sealed(self, account_id: str) -> str:
        """An account id sealed for a pending crossing (`Pseudonyms.seal`), memoised."""
        sealed = self._seals.get(account_id)
        if sealed is None:
            if len(self._seals) >= MEMO_SIZE:
                self._seals.clear()
            sealed = self._seals[account_id] = self._pseudonyms.seal(account_id)
        return sealed

    def pending_key(self, subject: str) -> str:
        """The pending hash of a subject (a pseudonym)."""
        return f"{self._prefix}{{{subject}}}:pending"

    @property
    def index_key(self) -> str:
        return f"{self._prefix}{{pending}}:index"

    def key_of(self, account_id: str, spec: CountSpec) -> str:
        """A (subject, signal)'s one key: for inspection, tests and the memory benchmark."""
        return self._key(self.name_of(account_id), spec.key_name, "d" if spec.distinct else "n")

    # --- reading ----------------------------------------------------------------------

    async def count(self, subject: str, spec: CountSpec, at: float) -> int:
        """Read as record.lua's `sync` would count it at `at`, without writing: what is
        above the window's floor (buckets, or the last bucket each other was seen in)."""
        client = await self.client()
        with storage_errors("reading a signal count from Redis"):
            fields: dict[Any, Any] = await client.hgetall(self.key_of(subject, spec))
        return _counted(fields, spec, at)

    async def counts(self, wanted: Sequence[tuple[str, CountSpec, float]]) -> list[int]:
        if not wanted:
            return []
        client = await self.client()
        with storage_errors("reading signal counts from Redis"):
            # A pipeline: one round trip (per node on a Cluster, which groups it by slot).
            async with client.pipeline(transaction=False) as pipe:
                for subject, spec, _ in wanted:
                    pipe.hgetall(self.key_of(subject, spec))
                read = await pipe.execute()
        return [_counted(fields, spec, at) for fields, (_, spec, at) in zip(read, wanted, strict=True)]

    # --- recording ------------------------------------------------------------------

    def _calls(self, batch_id: str, observations: Sequence[Note]) -> list[_ScriptCall]:
        groups: dict[int, list[Note]] = {}
        if self._cluster:
            for obs in observations:
                tag = self.name_of(obs.event.subject)
                groups.setdefault(key_slot(tag.encode()), []).append(obs)
        else:
            groups[0] = list(observations)
        return [_ScriptCall(self, batch_id, group) for group in groups.values()]

    async def record(self, batch_id: str, observations: Sequence[Note]) -> list[Crossing]:
        if not observations:
            return []
        client = await self.client()
        calls = self._calls(batch_id, observations)
        with storage_errors("writing signals to Redis"):
            if len(calls) == 1:  # a single server: no task to spawn
                answers = [await self._record_group(client, calls[0])]
            else:
                answers = await asyncio.gather(*(self._record_group(client, call) for call in calls))
        return sorted((c for found in answers for c in found), key=lambda c: c.at)

    async def _record_group(self, client: Redis | RedisCluster, call: _ScriptCall) -> list[Crossing]:
        try:
            reply = await client.evalsha(self._sha, len(call.keys), *call.keys, *call.args)  # type: ignore[arg-type]
        except redis_errors.NoScriptError:
            logger.warning(SCRIPT_RELOADED)
            self._sha = await client.script_load(SCRIPT)
            reply = await client.evalsha(self._sha, len(call.keys), *call.keys, *call.args)
        crossings = [call.crossing(entry) for entry in reply]
        if crossings:
            # Crossings are rare: this second round trip is paid only when there are some.
            # LT keeps the oldest time, so a hash is read as soon as its oldest entry is due.
            held: dict[str, float] = {}
            for crossing in crossings:
                key = self.pending_key(self.name_of(crossing.subject))
                held[key] = min(held.get(key, crossing.at), crossing.at)
            await self._index(client, held, call.longest_hold)
        return crossings

    async def _index(self, client: Redis | RedisCluster, held: dict[Any, float], ttl: int) -> None:
        """Name pending hashes in the index, which lives as long as the longest of them."""
        async with client.pipeline(transaction=False) as pipe:
            pipe.zadd(self.index_key, held, lt=True)
            pipe.expire(self.index_key, ttl, nx=True)  # a new index
            pipe.expire(self.index_key, ttl, gt=True)  # or a hash that outlives it
            await pipe.execute()

    # --- pending crossings ----------------------------------------------------------

    async def pending(self, plan: SignalPlan, before: float, *, scan: bool = False) -> list[Crossing]:
        client = await self.client()
        with storage_errors("reading pending crossings from Redis"):
            keys = set(await client.zrangebyscore(self.index_key, "-inf", before))
            if scan:
                found = {k async for k in client.scan_iter(match=self._pending_pattern(), count=SCAN_PAGE)}
                missing = found - keys
                if missing:
                    await self._index(client, dict.fromkeys(missing, 0), await self._longest_ttl(client, missing))
                keys |= missing
            names: list[str] = sorted(k.decode() if isinstance(k, bytes) else str(k) for k in keys)
            held = await self._read_all(client, names)
            crossings: list[Crossing] = []
            for key, entries in zip(names, held, strict=True):
                if not entries:
                    await self._unindex(client, key)
                for field, value in entries.items():
                    crossing = self._pending_crossing(plan, key, field, value)
                    if crossing is not None and crossing.at <= before:
                        crossings.append(crossing)
        return sorted(crossings, key=lambda c: c.at)

    async def acknowledge(self, crossings: Sequence[Crossing]) -> None:
        if not crossings:
            return
        client = await self.client()
        with storage_errors("acknowledging pending crossings in Redis"):
            # A pipeline: one round trip (per node on a Cluster, which groups it by slot).
            async with client.pipeline(transaction=False) as pipe:
                for crossing in crossings:
                    pipe.hdel(self.pending_key(self.name_of(crossing.subject)), pending_field(crossing))
                await pipe.execute()

    def _pending_pattern(self) -> str:
        escaped = "".join(f"\\{c}" if c in "*?[]\\" else c for c in self._prefix)
        return escaped + "{*}:pending"

    async def _read_all(self, client: Redis | RedisCluster, keys: list[str]) -> list[dict[Any, Any]]:
        if not keys:
            return []
        async with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hgetall(key)
            return list(await pipe.execute())

    async def _unindex(self, client: Redis | RedisCluster, key: str) -> None:
        """Drop an empty hash from the index; put it back if a crossing landed meanwhile.

        Its writer indexes it only after the script has filled it, so whichever order the
        two interleave in, a filled hash ends up indexed."""
        await client.zrem(self.index_key, key)
        ttl = await client.ttl(key)
        if ttl > 0:
            await self._index(client, {key: 0}, ttl)

    async def _longest_ttl(self, client: Redis | RedisCluster, keys: set[Any]) -> int:
        async with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.ttl(key)
            return max([1, *(int(t) for t in await pipe.execute())])

    def _pending_crossing(self, plan: SignalPlan, key: str, field: Any, value: Any) -> Crossing | None:
        name = field.decode() if isinstance(field, bytes) else str(field)
        kind, _, rest = name.partition("|")
        signal = rest.rpartition("|")[0]
        spec = spec_named(plan, kind, signal)
        if spec is None:  # a signal the policy no longer has: nothing to raise
            return None
        try:
            sealed, decision_id, at, first, second, evidence, more = json.loads(value)
            subject = self._pseudonyms.unseal(sealed)
        except (UnreadableSeal, ValueError, TypeError):
            logger.warning(PENDING_UNREADABLE, key)
            return None
        items = [EvidenceItem.decode(e) for part in (evidence, more) if isinstance(part, list) for e in part]
        return crossing_of(spec, subject, float(at), decision_id, int(first), int(second), items)


def _counted(fields: dict[Any, Any], spec: CountSpec, at: float) -> int:
    """A count hash as record.lua's `sync` would count it at `at`, without writing: what is
    above the window's floor (buckets, or the last bucket each other was seen in)."""
    if not fields:
        return 0
    now = int(at // spec.bucket)
    newest = fields.get(b"{h}")
    floor = max(now, int(newest) if newest is not None else now) - spec.buckets
    total = 0
    for name, value in fields.items():
        if name.startswith(b"{"):
            continue
        if spec.distinct:
            total += int(value) > floor
        elif int(name) > floor:
            total += int(value)
    return total


class _ScriptCall:
    """One script call's KEYS and ARGV, and how to read its answer back.

    Only the batch's receipt is a key; everything else travels as one JSON argument:
    packing many small arguments (keys included) costs the client more than the script
    spends on them. What many operations share - a signal's parameters, a hash's subject -
    goes once per call, referred to by index (see record.lua). The loop below runs once
    per event: it makes no container per event (operations go in one flat list), since
    every one that lives until the batch is sent is work for the garbage collector, which
    cost as much as the rest of the loop.
    """

    def __init__(self, store: RedisSignalStore, batch_id: str, group: list[Note]) -> None:
        self._store = store
        self._group = group
        # Built if something crossed; an acceptance is an operation that never crosses (None).
        self._ops: list[tuple[Observation | None, RateSpec | None]] | None = None
        self.keys: list[str] = [store._key(store.name_of(group[0].event.subject), "batch", batch_id)]
        self.longest_hold = 1  # seconds the longest-lived pending entry this call may write lives
        self._counts: dict[str, int] = {}  # count signal's key name -> its row in `counts`
        self._count_rows: list[list[Any]] = []
        self._rates: dict[str, int] = {}  # rate signal's id -> its row in `rates`
        self._rate_rows: list[list[Any]] = []
        self._series: dict[str, dict[str, int]] = {}  # signal key -> account id -> hash number
        self._series_rows: list[Any] = []  # per hash: its count's row, pseudonym, subject sealed
        operations: list[Any] = []
        add = operations.extend
        names = store._names
        series = self._series
        for obs in group:
            if isinstance(obs, Acceptance):
                event = obs.event
                add((-1, store.name_of(event.subject), event.at, store.name_of(event.other), obs.memory))
                continue
            event, spec = obs.event, obs.count
            index = series.get(spec.key_name, {}).get(event.subject) or self._add_series(event.subject, spec)
            other = names.get(event.other) or store.name_of(event.other)
            entry = encode_evidence(
                event.kind, other, event.other_band, event.mutual, event.at, event.ties, event.adult_connections
            )
            if spec.accepted_within is not None:
                add((-2, spec.accepted_within, spec.acceptance_memory))
            add((index, event.at, other, entry, event.decision_id))
            for rate in obs.rates:
                add(self._rate(obs, rate))
        self.args: list[str | int] = [
            store._evidence_kept,
            RECEIPT_TTL,
            json.dumps(
                [self._count_rows, self._rate_rows, self._series_rows, operations], separators=(",", ":")
            ),
        ]

    def _add_series(self, account_id: str, spec: CountSpec) -> int:
        count = self._counts.get(spec.key_name)
        if count is None:
            part = "d" if spec.distinct else "n"
            self._count_rows.append(
                [int(spec.distinct), spec.window, spec.bucket, spec.threshold, spec.cap,
                 f"count|{spec.id}|{spec.window}:", f"}}:{spec.key_name}:{part}"]  # see _key
            )
            count = self._counts[spec.key_name] = len(self._count_rows)  # Lua arrays are 1-based
            self.longest_hold = max(self.longest_hold, spec.window + spec.bucket)
        store = self._store
        self._series_rows += (count, store.name_of(account_id), store.sealed(account_id))
        index = self._series.setdefault(spec.key_name, {})[account_id] = len(self._series_rows) // 3
        return index

    def _series_of(self, account_id: str, spec: CountSpec) -> int:
        return self._series.get(spec.key_name, {}).get(account_id) or self._add_series(account_id, spec)

    def _rate(self, obs: Observation, rate: RateSpec) -> tuple[Any, ...]:
        subject = obs.event.subject
        num, den = rate.numerator, rate.denominator
        row = self._rates.get(rate.id)
        if row is None:
            # The marker lives in the hash with the longer window, so it outlives the rate's window.
            host = den if den.window >= num.window else num
            self._rate_rows.append(
                [1 if host is num else 2, host.window + host.bucket, f"{{r:{rate.id}}}",
                 rate.min_denominator, rate.threshold, rate.window, f"rate|{rate.id}|{rate.window}:"]
            )
            row = self._rates[rate.id] = len(self._rate_rows)
            self.longest_hold = max(self.longest_hold, host.window + host.bucket)
        return (0, row, self._series_of(subject, num), self._series_of(subject, den), obs.event.at,
                obs.event.decision_id)

    def _operation(self, number: int) -> tuple[Observation | None, RateSpec | None]:
        """The observation (and rate, for a rate check) of the script's operation `number`."""
        if self._ops is None:
            self._ops = [
                (None, None) if isinstance(obs, Acceptance) else (obs, rate)
                for obs in self._group
                for rate in (None, *(() if isinstance(obs, Acceptance) else obs.rates))
            ]
        return self._ops[number - 1]

    def crossing(self, entry: list[Any]) -> Crossing:
        op, first, second, evidence, more = entry
        obs, rate = self._operation(int(op))
        assert obs is not None, "an acceptance never crosses"
        items = [EvidenceItem.decode(e) for e in (*evidence, *more)]
        event = obs.event
        spec: CountSpec | RateSpec = obs.count if rate is None else rate
        return crossing_of(spec, event.subject, event.at, event.decision_id, int(first), int(second), items)
