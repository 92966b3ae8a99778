"""Weeks run Monday 00:00 UTC to Monday; SQL and Python agree on which week a time is in."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.moderation.weeks import floor_to_week, monday_of, week_index, week_of, week_start

MONDAY = datetime(2026, 1, 5, tzinfo=UTC).timestamp()


def test_a_week_starts_on_monday_midnight_utc() -> None:
    assert datetime.fromtimestamp(week_start(week_index(MONDAY + 3.5 * 86_400)), UTC) == datetime(
        2026, 1, 5, tzinfo=UTC
    )
    assert floor_to_week(MONDAY) == MONDAY
    assert floor_to_week(MONDAY - 1) == MONDAY - 7 * 86_400
    assert monday_of(date(2026, 1, 11)) == date(2026, 1, 5)


@pytest.mark.parametrize(
    "offset", [0, 1, 86_399.5, 7 * 86_400 - 0.25, 7 * 86_400, 100 * 86_400 + 0.5]
)
async def test_sql_puts_a_time_in_the_same_week_as_python(
    engine: AsyncEngine, offset: float
) -> None:
    at = MONDAY + offset
    async with engine.connect() as conn:
        in_sql = (await conn.execute(select(week_of(literal(at))))).scalar_one()
    assert in_sql == week_index(at)
