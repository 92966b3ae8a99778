"""The signal store's contract, and how one is chosen.

A store counts observations in their sliding windows, keeps a little evidence, and
detects crossings itself, atomically with the counting, marking each (subject, signal)
as alerted for a window so that concurrent writers raise one crossing between them.
`record` is idempotent per batch id: a batch replayed after an ambiguous failure (the
reply lost, not the write) returns the first answer and counts nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .crossing import Crossing
from .plan import Observation, RateSpec

EVIDENCE_KEPT = 20  # events of evidence kept per (subject, signal)
DEFAULT_PREFIX = "safe_accounts:"


class SignalStore(Protocol):
    backend: str  # "memory", "redis" or "redis-cluster"

    async def start(self) -> None: ...

    async def record(self, batch_id: str, observations: Sequence[Observation]) -> list[Crossing]:
        """Count `observations` in order; return the crossings they caused. Raises StorageError."""

    async def close(self) -> None: ...


def rate_counts(rate: RateSpec, numerator: int, denominator: int) -> dict[str, float]:
    return {
        "numerator": numerator,
        "denominator": denominator,
        "rate": round(numerator / denominator, 4) if denominator else 0.0,
        "threshold": rate.threshold,
        "min_denominator": rate.min_denominator,
    }


def signal_store_for(
    redis_url: str | None,
    *,
    prefix: str = DEFAULT_PREFIX,
    pseudonym_key: bytes | None = None,
    evidence_kept: int = EVIDENCE_KEPT,
) -> SignalStore:
    """A Redis store (a single server or a Cluster, found out on start) for a URL, or the
    in-process store for None: the single-process embedded default."""
    from .pseudonyms import Pseudonyms

    pseudonyms = Pseudonyms(pseudonym_key)
    if redis_url is None:
        from .memory import InProcessSignalStore

        return InProcessSignalStore(pseudonyms=pseudonyms, evidence_kept=evidence_kept)
    from ..config import redis_url as checked_redis_url
    from .redis_store import RedisSignalStore

    return RedisSignalStore(
        checked_redis_url(redis_url) or redis_url,
        prefix=prefix,
        pseudonyms=pseudonyms,
        evidence_kept=evidence_kept,
    )
