"""The signal store's contract (`backends.py` chooses one).

A store counts observations in their sliding windows, keeps a little evidence, and
detects crossings itself, atomically with the counting, marking each (subject, signal)
as alerted for a window so that concurrent writers raise one crossing between them.
`record` is idempotent per batch id: a batch replayed after an ambiguous failure (the
reply lost, not the write) returns the first answer and counts nothing twice.

Every crossing `record` returns is also kept *pending* by the store until `acknowledge`
(called once its alert is stored): `pending` returns those no worker acknowledged, so a
crossing whose worker died before SQL took it is raised by another (docs/signals.md).

An `Acceptance` among the notes is remembered per (subject, other) for its `memory`, in
fixed periods of that length (the last acceptance of a pair in each): an acceptance is
found from any moment of its own period and the next, so one at most `memory` before an
event is always found, and the store keeps at most two periods' acceptances per subject.
A count signal with `accepted_within` counts an event only when an acceptance of the pair
kept in the event's period or the one before is at most that long before it (and not
after it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .crossing import Crossing, window_key
from .evidence import EvidenceItem
from .plan import CountSpec, Note, RateSpec, SignalPlan

EVIDENCE_KEPT = 20  # events of evidence kept per (subject, signal)
DEFAULT_PREFIX = "safe_accounts:"


class SignalStore(Protocol):
    backend: str  # "memory", "redis" or "redis-cluster"

    async def start(self) -> None: ...

    async def record(self, batch_id: str, observations: Sequence[Note]) -> list[Crossing]:
        """Count (or remember) `observations` in order; return the crossings they caused.
        Raises StorageError."""

    async def count(self, subject: str, spec: CountSpec, at: float) -> int:
        """`subject`'s count under `spec` in its window ending at `at`: what has been
        recorded, not what is still queued. Raises StorageError."""

    async def counts(self, wanted: Sequence[tuple[str, CountSpec, float]]) -> list[int]:
        """`count` for each (subject, spec, at), in order: what a score reads of its parts.
        One round trip on Redis, however many. Raises StorageError."""

    async def pending(self, plan: SignalPlan, before: float, *, scan: bool = False) -> list[Crossing]:
        """Crossings recorded, by any process, at `before` or earlier and not acknowledged, of
        the signals `plan` still has. `scan`: also look where the index may not point yet (a
        writer killed between the script and its index write): costly, for start-up only.
        Raises StorageError."""

    async def acknowledge(self, crossings: Sequence[Crossing]) -> None:
        """Forget these crossings as pending: their alerts are stored. Raises StorageError."""

    async def close(self) -> None: ...


def acceptance_period(at: float, memory: int) -> int:
    """The fixed period of `memory` seconds (aligned to the epoch) an acceptance at `at` is
    kept under."""
    return int(at // memory)


def accepted_in_time(accepted: float | None, at: float, within: int) -> bool:
    """Whether an event at `at` follows the pair's acceptance at `accepted` closely enough."""
    return accepted is not None and accepted <= at and at - accepted <= within


def pending_field(crossing: Crossing) -> str:
    """A pending crossing's name within its subject: one per (signal, fixed window)."""
    return f"{crossing.kind}|{crossing.signal}|{crossing.window_key}"


def spec_named(plan: SignalPlan, kind: str, signal: str) -> CountSpec | RateSpec | None:
    specs: tuple[CountSpec | RateSpec, ...] = plan.rates if kind == "rate" else plan.counts
    return next((spec for spec in specs if spec.id == signal), None)


def crossing_of(
    spec: CountSpec | RateSpec,
    subject: str,
    at: float,
    decision_id: str | None,
    first: int,
    second: int,
    evidence: Sequence[EvidenceItem],
) -> Crossing:
    """The crossing of `spec` by `subject` at `at`: `first` is the count (or a rate's
    numerator), `second` a rate's denominator."""
    if isinstance(spec, CountSpec):
        return Crossing(
            signal=spec.id,
            subject=subject,
            window_key=window_key(spec.window, at),
            at=at,
            counts={"count": first, "threshold": spec.threshold},
            evidence=tuple(evidence),
            reason=spec.reason,
            restrict=spec.restrict,
            decision_id=decision_id,
        )
    newest_first = sorted(evidence, key=lambda e: e.at, reverse=True)
    return Crossing(
        signal=spec.id,
        subject=subject,
        window_key=window_key(spec.window, at),
        at=at,
        counts=rate_counts(spec, first, second),
        evidence=tuple(newest_first),
        reason=spec.reason,
        restrict=spec.restrict,
        decision_id=decision_id,
        kind="rate",
    )


def rate_counts(rate: RateSpec, numerator: int, denominator: int) -> dict[str, float]:
    return {
        "numerator": numerator,
        "denominator": denominator,
        "rate": round(numerator / denominator, 4) if denominator else 0.0,
        "threshold": rate.threshold,
        "min_denominator": rate.min_denominator,
    }
