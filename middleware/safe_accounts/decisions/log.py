"""The decision-log writer: one row per refused (or would-be refused) target, queued on the
request path and written in batches (see `db.batched`)."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncEngine

from ..db.batched import BatchedTable
from .table import decision_log


class DecisionRow(NamedTuple):
    """One row of the decision log. A NamedTuple: made per refused target on the request path,
    where a dataclass and `asdict` cost several times as much."""

    id: str
    at: float
    action: str
    rule: str
    policy_version: str
    mode: str
    outcome: str
    status: int | None
    actor_id: str | None
    actor_band: str
    target_id: str | None
    target_band: str | None
    route: str
    affected: int = 1


class DecisionLog(BatchedTable):
    def __init__(
        self, engine: AsyncEngine, *, batch: int = 500, interval: float = 0.1, limit: int = 100_000
    ) -> None:
        super().__init__(engine, decision_log, name="decision-log", batch=batch, interval=interval, limit=limit)

    def record(self, row: DecisionRow) -> None:
        self.add(row._asdict())
