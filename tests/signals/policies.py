"""Signals shaped like the shipped baseline's, and a way to make events."""

from __future__ import annotations

from safe_accounts.bands.age import AgeBand
from safe_accounts.policy.model import EventKind, Signals
from safe_accounts.signals.events import Event

BASELINE_LIKE = Signals.model_validate(
    {
        "counts": [
            {
                "id": "rejected-by-minors",
                "event": "contact_rejected",
                "where": {"other_band": ["minor"]},
                "window": "7d",
                "threshold": 5,
                "reason": "contact requests rejected by minors",
                "escalate": {"restrict": True},
            },
            {
                "id": "requests-to-minor-strangers",
                "event": "contact_request",
                "where": {"other_band": ["minor"], "mutual_connections": {"max": 0}},
                "window": "24h",
                "count": "distinct_others",
                "threshold": 10,
                "reason": "contact requests to many minors with no mutual connections",
            },
            {
                "id": "requests-to-minors",
                "event": "contact_request",
                "where": {"other_band": ["minor"]},
                "window": "7d",
                "threshold": 1000,
                "reason": "contact requests to minors (the rate's denominator)",
            },
            {
                "id": "blocked-by-minors",
                "event": "blocked",
                "where": {"other_band": ["minor"]},
                "window": "30d",
                "threshold": 3,
                "reason": "blocked by minors",
            },
            {
                "id": "reported-by-minors",
                "event": "reported",
                "where": {"other_band": ["minor"]},
                "window": "30d",
                "threshold": 2,
                "reason": "reported by minors",
            },
            {
                "id": "stranger-dms-to-minors-denied",
                "event": "direct_message_denied",
                "where": {"other_band": ["minor"]},
                "window": "1h",
                "threshold": 10,
                "reason": "direct messages to minors denied",
            },
        ],
        "rates": [
            {
                "id": "rejection-rate-minors",
                "numerator": "rejected-by-minors",
                "denominator": "requests-to-minors",
                "min_denominator": 8,
                "threshold": 0.5,
                "reason": "most contact requests to minors are rejected",
            }
        ],
    }
)

# (signal id, event kind, threshold) of each baseline-like count signal that alerts.
COUNT_SIGNALS = [
    ("rejected-by-minors", EventKind.CONTACT_REJECTED, 5),
    ("requests-to-minor-strangers", EventKind.CONTACT_REQUEST, 10),
    ("blocked-by-minors", EventKind.BLOCKED, 3),
    ("reported-by-minors", EventKind.REPORTED, 2),
    ("stranger-dms-to-minors-denied", EventKind.DM_DENIED, 10),
]


def event(
    kind: EventKind,
    at: float,
    *,
    subject: str = "adult-1",
    other: str = "child-1",
    band: AgeBand = AgeBand.B13_15,
    mutual: int | None = 0,
    decision_id: str | None = None,
    ties: int | None = None,
    subject_band: AgeBand | None = None,
) -> Event:
    return Event(kind, subject, other, band, mutual, at, decision_id, ties=ties, subject_band=subject_band)
