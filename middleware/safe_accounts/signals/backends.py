"""Choosing a signal store by URL: Redis (a server or a Cluster) or the in-process store.

Kept apart from `store.py` (the contract) so that the backends can import the contract
without an import cycle.
"""

from __future__ import annotations

from ..config import redis_url as checked_redis_url
from .memory import InProcessSignalStore
from .pseudonyms import Pseudonyms
from .redis_store import RedisSignalStore
from .store import DEFAULT_PREFIX, EVIDENCE_KEPT, SignalStore


def signal_store_for(
    redis_url: str | None,
    *,
    prefix: str = DEFAULT_PREFIX,
    pseudonym_key: bytes | None = None,
    evidence_kept: int = EVIDENCE_KEPT,
) -> SignalStore:
    """A Redis store (a single server or a Cluster, found out on start) for a URL, or the
    in-process store for None: the single-process embedded default."""
    pseudonyms = Pseudonyms(pseudonym_key)
    if redis_url is None:
        return InProcessSignalStore(pseudonyms=pseudonyms, evidence_kept=evidence_kept)
    return RedisSignalStore(
        checked_redis_url(redis_url) or redis_url,
        prefix=prefix,
        pseudonyms=pseudonyms,
        evidence_kept=evidence_kept,
    )
