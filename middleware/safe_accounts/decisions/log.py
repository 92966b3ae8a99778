"""The decision-log writer: rows queued on the request path and written in batches (see
`db.batched`); a refusal's rows are written before it is answered (`record_before_answer`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import orjson
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
    # A list's row: every account the rule applied to, as [id, band] (`decisions/table.py`).
    targets: list[list[str | None]] | None = None
    # The share of such decisions the log keeps, on a row of a sampled `allow` rule
    # (`decisions/sampling.py`); None: every one is logged.
    sample_rate: float | None = None


class DecisionLog(BatchedTable):
    def __init__(
        self, engine: AsyncEngine, *, batch: int = 500, interval: float = 0.1, limit: int = 100_000
    ) -> None:
        super().__init__(engine, decision_log, name="decision-log", batch=batch, interval=interval, limit=limit)

    def record(self, row: DecisionRow) -> None:
        self.add(_queued(row))

    async def record_before_answer(self, rows: Sequence[DecisionRow], *, within: float) -> bool:
        """Write `rows` now, waiting at most `within` seconds: True once they are committed.
        False: they are queued for the background writer instead, and counted."""
        return await self.write_now([_queued(row) for row in rows], within=within)

    def health(self) -> dict[str, object]:
        # Refusal rows answered before they could be written (`db.batched.write_now`).
        return {**super().health(), "answered_unwritten": self.answered_unwritten}


def _queued(row: DecisionRow) -> dict[str, object]:
    """`row` as the writer queues it: a list's accounts as the bytes of their JSON, one
    object the garbage collector does not track where a page's row held a list per account
    until the next batch (`db/bulk_insert.py`)."""
    queued = row._asdict()
    if row.targets is not None:
        queued["targets"] = orjson.dumps(row.targets)
    return queued
