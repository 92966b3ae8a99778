"""Reports: a user tells the platform about an account. The app stores them for its
moderators; what happens next is theirs to decide."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from ..problems import invalid
from ..tables import reports
from . import accounts as people

MAX_REASON = 1000


async def report(
    conn: AsyncConnection, reporter: int, account: int, reason: str, now: float
) -> dict[str, Any]:
    if account == reporter:
        raise invalid("you cannot report yourself")
    reported = await people.require(conn, account)
    report_id = await conn.scalar(
        insert(reports)
        .values(reporter_id=reporter, account_id=account, reason=reason, created_at=now)
        .returning(reports.c.id)
    )
    return {
        "id": report_id,
        "reporter": reporter,
        "account": people.card(reported),
        "reason": reason,
        "created_at": now,
    }
