"""The report log: every child-endangerment report (a 2xx `report` action), queued on the
request path and written in batches (see `db.batched`). `record` returns the new report's
id and does no I/O. Ids, bands, times, and the reporter's own words when the route names
them (`report_text`): what a moderator needs to read, erased by retention like the ids.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncEngine

from ..db.batched import BatchedTable
from .model import ItemStatus
from .tables import reports

# A report's words are kept up to this many characters (the moderation app's note limit).
MAX_TEXT = 2000


class ReportLog(BatchedTable):
    def __init__(
        self, engine: AsyncEngine, *, batch: int = 200, interval: float = 0.1, limit: int = 100_000
    ) -> None:
        super().__init__(engine, reports, name="report-log", batch=batch, interval=interval, limit=limit)

    def record(
        self,
        *,
        reporter_id: str,
        reporter_band: str,
        reported_id: str,
        reported_band: str,
        at: float,
        decision_id: str | None = None,
        text: str | None = None,
    ) -> str:
        """Queue one report of `reported_id` by `reporter_id`; returns its id. Bands are
        `AgeBand` values (an `AgeBand` itself is accepted); `text` is what the reporter
        wrote (kept up to 2,000 characters; blank is none)."""
        report_id = uuid.uuid4().hex
        self.add(
            {
                "id": report_id,
                "at": at,
                "reporter_id": reporter_id,
                "reporter_band": str(reporter_band),
                "reported_id": reported_id,
                "reported_band": str(reported_band),
                "decision_id": decision_id,
                "status": ItemStatus.OPEN.value,
                "text": (text.strip()[:MAX_TEXT] or None) if text else None,
            }
        )
        return report_id
