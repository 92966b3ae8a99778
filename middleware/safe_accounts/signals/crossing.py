"""A crossing: a signal reaching its threshold for one subject, once per window."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .evidence import EvidenceItem


def window_key(window: int, at: float) -> str:
    """The fixed window (`window` seconds long, aligned to the epoch) that `at` falls in.

    The store never raises two crossings of one signal for one subject less than a window
    apart, so two genuine alerts always land in different fixed windows: a unique
    (subject, signal, window_key) in SQL refuses only duplicates.
    """
    return f"{window}:{int(at // window)}"


@dataclass(frozen=True, slots=True)
class Crossing:
    signal: str
    subject: str  # the real account id (the store keeps only its pseudonym)
    window_key: str
    at: float
    counts: Mapping[str, float]
    evidence: tuple[EvidenceItem, ...]
    reason: str
    restrict: bool
    decision_id: str | None = None
    kind: str = field(default="count")  # "count" or "rate"

    def counts_json(self) -> dict[str, Any]:
        return dict(self.counts)

    def evidence_json(self) -> list[dict[str, Any]]:
        return [item.to_json() for item in self.evidence]
