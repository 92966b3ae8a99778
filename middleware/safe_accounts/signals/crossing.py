"""A crossing: a signal reaching its threshold for one subject, once per window."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class Evidence(Protocol):
    """What an alert's evidence holds: an event behind a signal (`EvidenceItem`), or a
    part's contribution to a score (`scoring.ScoreContribution`)."""

    def to_json(self) -> dict[str, Any]: ...


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
    evidence: tuple[Evidence, ...]
    reason: str
    restrict: bool
    decision_id: str | None = None
    kind: str = field(default="count")  # "count", "rate" or "score"

    def counts_json(self) -> dict[str, Any]:
        return dict(self.counts)

    def evidence_json(self) -> list[dict[str, Any]]:
        return [item.to_json() for item in self.evidence]
