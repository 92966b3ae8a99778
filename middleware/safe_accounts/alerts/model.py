"""An alert as stored and shown to moderators."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import SafeAccountsError


class UnknownAlert(SafeAccountsError, LookupError):
    """No alert has the id given."""


class LiveAlertExists(SafeAccountsError, ValueError):
    """The account has an alert not yet resolved: a second one cannot be opened beside it."""


class AlertStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    subject: str
    signal: str
    window_key: str
    counts: Mapping[str, Any]
    evidence: tuple[Mapping[str, Any], ...]
    reason: str
    status: AlertStatus
    created_at: float
    policy_version: str
    decision_id: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Alert:
        return cls(
            id=row["id"],
            subject=row["subject"],
            signal=row["signal"],
            window_key=row["window_key"],
            counts=dict(row["counts"]),
            evidence=tuple(row["evidence"]),
            reason=row["reason"],
            status=AlertStatus(row["status"]),
            created_at=row["created_at"],
            policy_version=row["policy_version"],
            decision_id=row["decision_id"],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "subject": self.subject,
            "signal": self.signal,
            "window_key": self.window_key,
            "counts": dict(self.counts),
            "evidence": [dict(e) for e in self.evidence],
            "reason": self.reason,
            "status": self.status.value,
            "created_at": self.created_at,
            "policy_version": self.policy_version,
            "decision_id": self.decision_id,
        }
