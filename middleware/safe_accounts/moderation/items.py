"""Finding an item (an alert or a report) by id: what every moderation action starts from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..alerts.tables import alerts
from .model import ItemKind, ItemStatus, UnknownItem
from .tables import reports


@dataclass(frozen=True, slots=True)
class ItemRef:
    kind: ItemKind
    id: str
    account_id: str | None  # the account the item is about (None once a report is erased)
    created_at: float
    status: ItemStatus
    row: dict[str, Any]


async def find_item(conn: AsyncConnection, item_id: str) -> ItemRef:
    """The alert or report `item_id`; `UnknownItem` when there is neither."""
    row = (await conn.execute(select(alerts).where(alerts.c.id == item_id))).mappings().first()
    if row is not None:
        return ItemRef(
            ItemKind.ALERT,
            row["id"],
            row["subject"],
            row["created_at"],
            ItemStatus(row["status"]),
            {str(k): v for k, v in row.items()},
        )
    row = (await conn.execute(select(reports).where(reports.c.id == item_id))).mappings().first()
    if row is not None:
        return ItemRef(
            ItemKind.REPORT,
            row["id"],
            row["reported_id"],
            row["at"],
            ItemStatus(row["status"]),
            {str(k): v for k, v in row.items()},
        )
    raise UnknownItem(f"there is no alert or report {item_id!r} in the moderation queue")


def status_table(kind: ItemKind) -> Any:
    return alerts if kind is ItemKind.ALERT else reports
