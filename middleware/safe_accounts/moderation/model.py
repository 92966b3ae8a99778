"""The moderation vocabulary: items in the queue, the actions moderators take on them."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from ..errors import SafeAccountsError


class UnknownItem(SafeAccountsError, LookupError):
    """No alert or report has the id given."""


class InvalidAction(SafeAccountsError, ValueError):
    """A moderation action that cannot be taken as asked."""


class ItemKind(enum.StrEnum):
    ALERT = "alert"
    REPORT = "report"


class ItemStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class ModerationAction(enum.StrEnum):
    ACK = "ack"
    DISMISS = "dismiss"
    WARN = "warn"
    RESTRICT = "restrict"
    LIFT = "lift"
    SUSPEND = "suspend"
    REFER_LAW_ENFORCEMENT = "refer_law_enforcement"
    NOTE = "note"

    @property
    def resolves(self) -> bool:
        """A decision on the item: the first of these is its time to resolution."""
        return self in RESOLVING

    @classmethod
    def parse(cls, value: str) -> ModerationAction:
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(a.value for a in cls)
            raise InvalidAction(
                f"unknown moderation action {value!r} (expected one of {names})"
            ) from None


RESOLVING = frozenset(
    {
        ModerationAction.DISMISS,
        ModerationAction.WARN,
        ModerationAction.RESTRICT,
        ModerationAction.SUSPEND,
        ModerationAction.REFER_LAW_ENFORCEMENT,
    }
)


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One moderator's action on one item, as stored."""

    id: str
    item_kind: ItemKind
    item_id: str
    account_id: str | None
    action: ModerationAction
    by: str
    at: float
    note: str | None
    effect: str | None
    case_id: str | None = None  # taken on the case holding the item (one row per item)

    @classmethod
    def from_row(cls, row: Any) -> ActionRecord:
        return cls(
            id=row["id"],
            item_kind=ItemKind(row["item_kind"]),
            item_id=row["item_id"],
            account_id=row["account_id"],
            action=ModerationAction(row["action"]),
            by=row["by"],
            at=row["at"],
            note=row["note"],
            effect=row["effect"],
            case_id=row["case_id"],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "item_kind": self.item_kind.value,
            "item_id": self.item_id,
            "account_id": self.account_id,
            "action": self.action.value,
            "by": self.by,
            "at": self.at,
            "note": self.note,
            "effect": self.effect,
            "case_id": self.case_id,
        }
