"""The Redis signal store: one Lua script call per batch (per Cluster slot).

Keys: `{prefix}{{subject}}:{signal}/{window}:{part}`, part `n` (bucket counts), `d`
(distinct others), `e` (evidence list) or `a` (alerted marker), plus
`{prefix}{{subject}}:batch:{id}` (a batch's receipt). The subject between braces is a
Cluster hash tag: all of one subject's keys share a slot, so a batch is cut by slot and
each piece is one atomic script call on the node that owns it.
"""

from __future__ import annotations

import asyncio
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

    def keys_of(self, account_id: str, spec: CountSpec) -> list[str]:
        """A (subject, signal)'s keys: for inspection, tests and the memory benchmark."""
        subject = self._pseudonyms.of(account_id)
        return [
            self._key(subject, spec.key_name, "d" if spec.distinct else "n"),
            self._key(subject, spec.key_name, "e"),
            self._key(subject, spec.key_name, "a"),
        ]

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
    """One script call's KEYS and ARGV, and how to read its answer back."""

    def __init__(self, store: RedisSignalStore, batch_id: str, group: list[Observation]) -> None:
        self._store = store
        first = store._pseudonyms.of(group[0].event.subject)
        self.keys: list[str] = [store._key(first, "batch", batch_id)]
        self._index: dict[str, int] = {}
        self.args: list[str | int | float] = [store._evidence_kept, RECEIPT_TTL]
        self.ops: list[tuple[Observation, RateSpec | None]] = []
        for obs in group:
            self._count(obs)
            for rate in obs.rates:
                self._rate(obs, rate)

    def _k(self, key: str) -> int:
        index = self._index.get(key)
        if index is None:
            self.keys.append(key)
            index = self._index[key] = len(self.keys)  # Lua's KEYS are 1-based
        return index

    def _parts(self, subject: str, spec: CountSpec) -> tuple[int, int]:
        key = self._store._key
        data = self._k(key(subject, spec.key_name, "d" if spec.distinct else "n"))
        return data, self._k(key(subject, spec.key_name, "e"))

    def _count(self, obs: Observation) -> None:
        event, spec = obs.event, obs.count
        pseudonyms = self._store._pseudonyms
        subject, other = pseudonyms.of(event.subject), pseudonyms.of(event.other)
        data, evidence = self._parts(subject, spec)
        marker = self._k(self._store._key(subject, spec.key_name, "a"))
        entry = EvidenceItem(event.kind, other, event.other_band, event.mutual, event.at).encode()
        self.args += ["C", data, evidence, marker, int(spec.distinct), spec.window, spec.bucket]
        self.args += [spec.threshold, spec.cap, repr(event.at), other, entry]
        self.ops.append((obs, None))

    def _rate(self, obs: Observation, rate: RateSpec) -> None:
        subject = self._store._pseudonyms.of(obs.event.subject)
        marker = self._k(self._store._key(subject, rate.key_name, "a"))
        self.args += ["R", marker]
        for spec in (rate.numerator, rate.denominator):
            data, evidence = self._parts(subject, spec)
            self.args += [data, int(spec.distinct), spec.window, spec.bucket, spec.cap, evidence]
        self.args += [rate.min_denominator, repr(rate.threshold), rate.window, repr(obs.event.at)]
        self.ops.append((obs, rate))

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
