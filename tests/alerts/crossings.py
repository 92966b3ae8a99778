"""Crossings as the signal store hands them over."""

from __future__ import annotations

from safe_accounts.bands.age import AgeBand
from safe_accounts.policy.model import EventKind
from safe_accounts.signals import Crossing, EvidenceItem, window_key

AT = 1_800_000_000.0
WEEK = 7 * 86400


def crossing(
    subject: str = "adult-1",
    signal: str = "rejected-by-minors",
    *,
    at: float = AT,
    restrict: bool = False,
    window: int = WEEK,
) -> Crossing:
    evidence = tuple(
        EvidenceItem(EventKind.CONTACT_REJECTED, f"child-{i}", AgeBand.B13_15, 0, at - i) for i in range(5)
    )
    return Crossing(
        signal=signal,
        subject=subject,
        window_key=window_key(window, at),
        at=at,
        counts={"count": 5, "threshold": 5},
        evidence=evidence,
        reason="contact requests rejected by minors",
        restrict=restrict,
        decision_id="dec-1",
    )
