"""The Redis signal store: one Lua script call per batch (per Cluster slot).

Keys: one hash per (subject, signal), `{prefix}{{subject}}:{signal}/{window}:n` (bucket
counts) or `...:d` (distinct others), which also holds the signal's evidence ring and
alerted marker (and the marker of a rate built on it) - see record.lua; and
`{prefix}{{subject}}:batch:{id}` (a batch's receipt). The subject between braces is a
Cluster hash tag: all of one subject's keys share a slot, so a batch is cut by slot and
each piece is one atomic script call on the node that owns it.
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

from ..errors import ConfigurationError, StorageError
from .crossing import Crossing, window_key
from .evidence import EvidenceItem
from .plan import CountSpec, Observation, RateSpec
from .pseudonyms import Pseudonyms
from .store import DEFAULT_PREFIX, EVIDENCE_KEPT, rate_counts

logger = logging.getLogger(__name__)

SCRIPT = resources.files(__package__).joinpath("record.lua").read_text()
RECEIPT_TTL = 600  # seconds a batch's answer is kept for a replay
SCRIPT_RELOADED = "signal script was not on the Redis server (restarted or failed over): loaded it again"

_FAILURES = (redis_errors.RedisError, OSError, asyncio.TimeoutError)


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
        self._evidence_kept = evidence_kept
        self._cluster = cluster
        self._timeout = socket_timeout
        self._client: Redis | RedisCluster | None = None
        self._sha: str | None = None
        self._starting = asyncio.Lock()  # concurrent first writes must not each connect
        self.backend = "redis"

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
        try:
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
        except _FAILURES as exc:
            raise StorageError(f"Redis at {self._url} is unreachable: {exc}") from exc
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

    def key_of(self, account_id: str, spec: CountSpec) -> str:
        """A (subject, signal)'s one key: for inspection, tests and the memory benchmark."""
        return self._key(self._pseudonyms.of(account_id), spec.key_name, "d" if spec.distinct else "n")

    # --- recording ------------------------------------------------------------------

    async def record(self, batch_id: str, observations: Sequence[Observation]) -> list[Crossing]:
        if not observations:
            return []
        client = await self.client()
        groups: dict[int, list[Observation]] = {}
        if self._cluster:
            for obs in observations:
                tag = self._pseudonyms.of(obs.event.subject)
                groups.setdefault(key_slot(tag.encode()), []).append(obs)
        else:
            groups[0] = list(observations)
        try:
            answers = await asyncio.gather(
                *(self._record_group(client, batch_id, group) for group in groups.values())
            )
        except _FAILURES as exc:
            raise StorageError(f"Redis signal write failed: {exc}") from exc
        return sorted((c for found in answers for c in found), key=lambda c: c.at)

    async def _record_group(
        self, client: Redis | RedisCluster, batch_id: str, group: list[Observation]
    ) -> list[Crossing]:
        call = _ScriptCall(self, batch_id, group)
        try:
            reply = await client.evalsha(self._sha, len(call.keys), *call.keys, *call.args)  # type: ignore[arg-type]
        except redis_errors.NoScriptError:
            logger.warning(SCRIPT_RELOADED)
            self._sha = await client.script_load(SCRIPT)
            reply = await client.evalsha(self._sha, len(call.keys), *call.keys, *call.args)  # type: ignore[arg-type]
        return [call.crossing(entry) for entry in reply]


class _ScriptCall:
    """One script call's KEYS and ARGV, and how to read its answer back.

    The operations travel as one JSON argument: packing thousands of small arguments
    costs the client more than the script spends on them.
    """

    def __init__(self, store: RedisSignalStore, batch_id: str, group: list[Observation]) -> None:
        self._store = store
        self._names: dict[str, str] = {}  # account id -> pseudonym, once per call
        self._index: dict[tuple[str, str], int] = {}  # (account id, signal key) -> KEYS index
        first = self._name(group[0].event.subject)
        self.keys: list[str] = [store._key(first, "batch", batch_id)]
        self.ops: list[tuple[Observation, RateSpec | None]] = []
        operations: list[list[Any]] = []
        for obs in group:
            operations.append(self._count(obs))
            for rate in obs.rates:
                operations.append(self._rate(obs, rate))
        self.args: list[str | int] = [
            store._evidence_kept,
            RECEIPT_TTL,
            json.dumps(operations, separators=(",", ":")),
        ]

    def _name(self, account_id: str) -> str:
        name = self._names.get(account_id)
        if name is None:
            name = self._names[account_id] = self._store._pseudonyms.of(account_id)
        return name

    def _series(self, account_id: str, spec: CountSpec) -> int:
        index = self._index.get((account_id, spec.key_name))
        if index is None:
            part = "d" if spec.distinct else "n"
            self.keys.append(self._store._key(self._name(account_id), spec.key_name, part))
            index = self._index[(account_id, spec.key_name)] = len(self.keys)  # KEYS are 1-based
        return index

    def _count(self, obs: Observation) -> list[Any]:
        event, spec = obs.event, obs.count
        other = self._name(event.other)
        entry = EvidenceItem(event.kind, other, event.other_band, event.mutual, event.at).encode()
        self.ops.append((obs, None))
        return ["C", self._series(event.subject, spec), int(spec.distinct), spec.window, spec.bucket,
                spec.threshold, spec.cap, event.at, other, entry]

    def _rate(self, obs: Observation, rate: RateSpec) -> list[Any]:
        subject = obs.event.subject
        # The marker lives in the hash with the longer window, so it outlives the rate's window.
        host = rate.denominator if rate.denominator.window >= rate.numerator.window else rate.numerator
        num, den = rate.numerator, rate.denominator
        self.ops.append((obs, rate))
        return [
            "R", self._series(subject, host), host.window + host.bucket, f"{{r:{rate.id}}}",
            self._series(subject, num), int(num.distinct), num.window, num.bucket, num.cap,
            self._series(subject, den), int(den.distinct), den.window, den.bucket, den.cap,
            rate.min_denominator, rate.threshold, rate.window, obs.event.at,
        ]

    def crossing(self, entry: list[Any]) -> Crossing:
        op, first, second, evidence, more = entry
        obs, rate = self.ops[int(op) - 1]
        items = [EvidenceItem.decode(e) for e in (*evidence, *more)]
        event = obs.event
        if rate is None:
            spec = obs.count
            return Crossing(
                signal=spec.id,
                subject=event.subject,
                window_key=window_key(spec.window, event.at),
                at=event.at,
                counts={"count": int(first), "threshold": spec.threshold},
                evidence=tuple(items),
                reason=spec.reason,
                restrict=spec.restrict,
                decision_id=event.decision_id,
            )
        items.sort(key=lambda e: e.at, reverse=True)
        return Crossing(
            signal=rate.id,
            subject=event.subject,
            window_key=window_key(rate.window, event.at),
            at=event.at,
            counts=rate_counts(rate, int(first), int(second)),
            evidence=tuple(items),
            reason=rate.reason,
            restrict=rate.restrict,
            decision_id=event.decision_id,
            kind="rate",
        )
