"""Weeks: Monday 00:00 UTC to the next Monday, the unit of trends and of retention.

Times are stored as epoch seconds (floats). `week_of(column)` is the SQL expression of a
time's week number (weeks since Monday 1970-01-05), compiled for each dialect because
SQLite's CAST truncates while PostgreSQL's rounds.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

WEEK = 7 * 86_400
DAY = 86_400
# 1970-01-01 was a Thursday: the first Monday is four days later.
FIRST_MONDAY = 4 * DAY


def week_index(at: float) -> int:
    return int((at - FIRST_MONDAY) // WEEK)


def week_start(index: int) -> int:
    """Epoch seconds of the Monday 00:00 UTC that starts week `index`."""
    return FIRST_MONDAY + index * WEEK


def floor_to_week(at: float) -> int:
    return week_start(week_index(at))


def day_start(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def as_date(at: float) -> date:
    return datetime.fromtimestamp(at, UTC).date()


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


class week_of(FunctionElement[int]):  # noqa: N801 - reads as an SQL function
    """The week number of an epoch-seconds column."""

    type = Integer()
    inherit_cache = True
    name = "week_of"

    def __init__(self, column: ColumnElement[Any]) -> None:
        super().__init__(column)


@compiles(week_of)
def _week_of_default(element: week_of, compiler: Any, **kw: Any) -> str:
    # Times after 1970-01-05 are positive here, so truncation is the floor.
    (column,) = element.clauses
    return f"CAST(({compiler.process(column, **kw)} - {FIRST_MONDAY}) / {WEEK} AS INTEGER)"


@compiles(week_of, "postgresql")
def _week_of_postgresql(element: week_of, compiler: Any, **kw: Any) -> str:
    (column,) = element.clauses
    return f"CAST(FLOOR(({compiler.process(column, **kw)} - {FIRST_MONDAY}) / {WEEK}) AS INTEGER)"
