"""The in-process signal store: the same contract as Redis, for one process on its own.

It follows the Lua script step for step (buckets, distinct-other cap, markers in event
time, evidence lists), so the two pass one contract suite. Entries for subjects that went
quiet are swept now and then, so memory stays bounded by the active accounts. Pending
crossings die with the process like everything else here; they are kept for the contract
(and so that one worker's own recovery pass behaves the same on every backend).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from .crossing import Crossing, window_key
from .evidence import EvidenceItem
from .plan import Acceptance, CountSpec, Note, Observation, SignalPlan
from .pseudonyms import Pseudonyms
from .store import EVIDENCE_KEPT, acceptance_period, accepted_in_time, pending_field, rate_counts, spec_named

_SWEEP_EVERY = 10_000  # writes between sweeps of expired entries
_RECEIPTS_KEPT = 1024  # batch answers kept for replays


@dataclass(slots=True)
class _Series:
    """One (subject, signal): buckets (idx -> count) or distinct others (other -> last idx)."""

    values: dict[str | int, int] = field(default_factory=dict)
    newest: int | None = None
    evidence: deque[EvidenceItem] = field(default_factory=deque)
    expires: float = 0.0  # in event time, like the Redis TTL

    def trim(self, spec: CountSpec, at: float) -> int:
        """Drop what fell out of the window at `at`; return the count."""
        if self.newest is None:
            return 0
        ref = max(self.newest, int(at // spec.bucket))
        floor = ref - _buckets(spec)
        if spec.distinct:
            for other in [o for o, idx in self.values.items() if idx <= floor]:
                del self.values[other]
            while len(self.values) > spec.cap:
                oldest = min(self.values, key=self.values.__getitem__)
                del self.values[oldest]
            return len(self.values)
        for idx in [i for i in self.values if int(i) <= floor]:
            del self.values[idx]
        return sum(self.values.values())


def _buckets(spec: CountSpec) -> int:
    return -(-spec.window // spec.bucket)


class InProcessSignalStore:
    backend = "memory"

    def __init__(self, *, pseudonyms: Pseudonyms | None = None, evidence_kept: int = EVIDENCE_KEPT) -> None:
        self._pseudonyms = pseudonyms or Pseudonyms()
        self._evidence_kept = evidence_kept
        self._series: dict[tuple[str, str], _Series] = {}
        self._markers: dict[tuple[str, str], tuple[float, int]] = {}  # at, window
        self._receipts: OrderedDict[str, list[Crossing]] = OrderedDict()
        self._writes = 0
        self._pending: dict[tuple[str, str], tuple[Crossing, float]] = {}  # (subject, field) -> crossing, expiry
        # (subject, other, memory, period) -> when the other last accepted the subject's
        # request in that period
        self._accepted: dict[tuple[str, str, int, int], float] = {}

    async def start(self) -> None:
        pass

    async def pending(self, plan: SignalPlan, before: float, *, scan: bool = False) -> list[Crossing]:
        return sorted(
            (
                crossing
                for crossing, _ in self._pending.values()
                if crossing.at <= before and spec_named(plan, crossing.kind, crossing.signal) is not None
            ),
            key=lambda c: c.at,
        )

    async def acknowledge(self, crossings: Sequence[Crossing]) -> None:
        for crossing in crossings:
            self._pending.pop((crossing.subject, pending_field(crossing)), None)

    def _hold(self, crossing: Crossing, lifetime: float) -> Crossing:
        self._pending[(crossing.subject, pending_field(crossing))] = (crossing, crossing.at + lifetime)
        return crossing

    async def close(self) -> None:
        pass

    def _get(self, subject: str, spec: CountSpec) -> _Series:
        key = (subject, spec.key_name)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series(evidence=deque(maxlen=self._evidence_kept))
        return series

    def _alerted(self, key: tuple[str, str], at: float) -> bool:
        marker = self._markers.get(key)
        return marker is not None and at < marker[0] + marker[1]

    async def count(self, subject: str, spec: CountSpec, at: float) -> int:
        series = self._series.get((self._pseudonyms.of(subject), spec.key_name))
        return 0 if series is None else series.trim(spec, at)

    async def counts(self, wanted: Sequence[tuple[str, CountSpec, float]]) -> list[int]:
        return [await self.count(subject, spec, at) for subject, spec, at in wanted]

    async def record(self, batch_id: str, observations: Sequence[Note]) -> list[Crossing]:
        if batch_id in self._receipts:
            return list(self._receipts[batch_id])
        crossings: list[Crossing] = []
        for obs in observations:
            if isinstance(obs, Acceptance):
                self._remember(obs)
            elif obs.count.accepted_within is None or self._soon_after_acceptance(obs):
                crossings.extend(self._observe(obs))
        self._receipts[batch_id] = crossings
        while len(self._receipts) > _RECEIPTS_KEPT:
            self._receipts.popitem(last=False)
        self._writes += len(observations)
        if self._writes >= _SWEEP_EVERY:
            self._writes = 0
            self._sweep(max((o.event.at for o in observations), default=0.0))
        return list(crossings)

    def _remember(self, acceptance: Acceptance) -> None:
        event, memory = acceptance.event, acceptance.memory
        pair = (self._pseudonyms.of(event.subject), self._pseudonyms.of(event.other), memory)
        self._accepted[(*pair, acceptance_period(event.at, memory))] = event.at

    def _soon_after_acceptance(self, obs: Observation) -> bool:
        event, spec = obs.event, obs.count
        memory, within = spec.acceptance_memory, spec.accepted_within or 0
        pair = (self._pseudonyms.of(event.subject), self._pseudonyms.of(event.other), memory)
        period = acceptance_period(event.at, memory)
        return any(
            accepted_in_time(self._accepted.get((*pair, p)), event.at, within) for p in (period, period - 1)
        )

    def _observe(self, obs: Observation) -> list[Crossing]:
        event, spec = obs.event, obs.count
        subject = self._pseudonyms.of(event.subject)
        other = self._pseudonyms.of(event.other)
        series = self._get(subject, spec)
        idx = int(event.at // spec.bucket)
        if spec.distinct:
            if idx > series.values.get(other, -1):
                series.values[other] = idx
        else:
            series.values[idx] = series.values.get(idx, 0) + 1
        series.newest = idx if series.newest is None else max(series.newest, idx)
        series.evidence.appendleft(
            EvidenceItem(
                event.kind, other, event.other_band, event.mutual, event.at, event.ties, event.adult_connections
            )
        )
        series.expires = max(series.expires, event.at + spec.window + spec.bucket)
        count = series.trim(spec, event.at)
        found: list[Crossing] = []
        marker = (subject, spec.key_name)
        if spec.alerts and count >= spec.threshold and not self._alerted(marker, event.at):
            self._markers[marker] = (event.at, spec.window)
            found.append(self._hold(
                Crossing(
                    signal=spec.id,
                    subject=event.subject,
                    window_key=window_key(spec.window, event.at),
                    at=event.at,
                    counts={"count": count, "threshold": spec.threshold},
                    evidence=tuple(series.evidence),
                    reason=spec.reason,
                    restrict=spec.restrict,
                    decision_id=event.decision_id,
                ),
                spec.window + spec.bucket,
            ))
        for rate in obs.rates:
            num_series = self._get(subject, rate.numerator)
            den_series = self._get(subject, rate.denominator)
            num = num_series.trim(rate.numerator, event.at)
            den = den_series.trim(rate.denominator, event.at)
            marker = (subject, rate.key_name)
            if rate.crossed(num, den) and not self._alerted(marker, event.at):
                self._markers[marker] = (event.at, rate.window)
                evidence = sorted(
                    (*num_series.evidence, *den_series.evidence), key=lambda e: e.at, reverse=True
                )
                host = max(rate.numerator, rate.denominator, key=lambda c: c.window)
                found.append(self._hold(
                    Crossing(
                        signal=rate.id,
                        subject=event.subject,
                        window_key=window_key(rate.window, event.at),
                        at=event.at,
                        counts=rate_counts(rate, num, den),
                        evidence=tuple(evidence),
                        reason=rate.reason,
                        restrict=rate.restrict,
                        decision_id=event.decision_id,
                        kind="rate",
                    ),
                    host.window + host.bucket,
                ))
        return found

    def _sweep(self, now: float) -> None:
        for key in [k for k, s in self._series.items() if s.expires <= now]:
            del self._series[key]
        for key in [k for k, (at, window) in self._markers.items() if at + window <= now]:
            del self._markers[key]
        for key in [k for k, (_, expires) in self._pending.items() if expires <= now]:
            del self._pending[key]
        # An acceptance is read from its own period and the next only.
        for pair in [k for k in self._accepted if (k[3] + 2) * k[2] <= now]:
            del self._accepted[pair]
