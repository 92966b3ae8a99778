"""Sampling a decision's allowed rows: which decisions of an `allow` rule with `log: {sample: R}`
the log keeps.

A decision is kept by a hash of its id, not by a die: the same decision is kept or left out
wherever it is judged (a test replays it, two rules of one decision agree), and a decision
kept at a rate is kept at every higher one. Decision ids are random, so over many decisions
the share kept is R. Every row kept carries R (`sample_rate`), so counts scale back up.

Only rows of `allow` rules are ever left out, and only of a decision that changed nothing
(`pipeline/records.py` says which): refusals, filters, redactions and monitor-mode
would-be decisions are always written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from .log import DecisionRow

_SPAN = 1 << 64


def share(decision_id: str) -> float:
    """Where `decision_id` falls in [0, 1): a decision is kept at every rate above it."""
    digest = hashlib.blake2b(decision_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SPAN


def kept(rows: Sequence[DecisionRow]) -> list[DecisionRow]:
    """The rows of one decision the log keeps: each row with a `sample_rate` is kept when the
    decision's id (its first row's) falls below that rate; every other row is kept."""
    if not rows:
        return []
    at = share(rows[0].id)
    return [row for row in rows if row.sample_rate is None or at < row.sample_rate]
