"""The `relationships.adult_connections` lookup as the middleware reads it: only for the
events a signal could count by it, with the day's `:adult_born_by`, and a percentage or
nothing from its answer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from safe_accounts.bands.age import AgeBand, band_on
from safe_accounts.errors import StorageError
from safe_accounts.policy import load_policy
from safe_accounts.policy.model import EventKind
from safe_accounts.relations.adult_connections import AdultConnections, adult_born_by

POLICY = """\
version: 1
name: t
relationships:
  adult_connections:
    callable: tests.relations.test_adult_connections:answer
signals:
  counts:
    - id: adult-circle
      event: contact_request
      where: {subject_band: [minor], other_band: [minor], subject_adult_connections: {min: 60}}
      window: 7d
      count: distinct_others
      threshold: 2
      reason: a teen account with a mostly adult circle
"""
# What the host's callable answers next, and what it was asked.
ANSWER: list[Any] = [None]
ASKED: list[dict[str, Any]] = []


def answer(**params: Any) -> list[tuple[Any, ...]]:
    ASKED.append(params)
    return [] if ANSWER[0] is None else [(ANSWER[0],)]


@pytest.fixture
def lookup(tmp_path: Path) -> AdultConnections:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    found = AdultConnections.wanted(load_policy(path).policy, None, unknown_is_minor=True)
    assert found is not None
    ASKED.clear()
    return found


def test_it_is_read_only_for_the_events_a_signal_could_count_by_it(lookup: AdultConnections) -> None:
    request = EventKind.CONTACT_REQUEST
    assert lookup.kinds == {request}
    assert lookup.wanted_for(request, AgeBand.B13_15, AgeBand.B16_17)
    assert lookup.wanted_for(request, AgeBand.UNKNOWN, AgeBand.UNDER_13)  # unknown counts as a minor
    assert not lookup.wanted_for(request, AgeBand.ADULT, AgeBand.B13_15)  # an adult's request
    assert not lookup.wanted_for(request, AgeBand.B13_15, AgeBand.ADULT)  # a teen asking an adult
    assert not lookup.wanted_for(EventKind.CONTACT_REJECTED, AgeBand.B13_15, AgeBand.B13_15)


async def test_it_is_asked_with_the_account_the_days_adult_birth_date_and_the_time(lookup: AdultConnections) -> None:
    ANSWER[0] = 75
    now = datetime(2027, 1, 15, 23, 59, tzinfo=UTC).timestamp()
    assert await lookup.share("teen-1", now) == 75
    (asked,) = ASKED
    assert asked == {"account": "teen-1", "adult_born_by": "2009-01-15", "now": now}


@pytest.mark.parametrize(("answered", "share"), [(None, None), (0, 0), (100, 100), (66.7, 67), ("60", 60)])
async def test_a_percentage_or_nothing(lookup: AdultConnections, answered: Any, share: int | None) -> None:
    ANSWER[0] = answered
    assert await lookup.share("teen-1", 1_800_000_000.0) == share


@pytest.mark.parametrize("answered", [101, -5, "many"])
async def test_anything_else_is_a_failed_read(lookup: AdultConnections, answered: Any) -> None:
    # The request path treats a failed read as an unknown share: no alert on it.
    ANSWER[0] = answered
    with pytest.raises(StorageError, match=r"relationships\.adult_connections"):
        await lookup.share("teen-1", 1_800_000_000.0)


def test_an_adult_by_the_lookups_date_is_an_adult_by_the_bands() -> None:
    # Every day of a leap year and the next: born on or before `adult_born_by(today)` is
    # exactly the bands' adult, 29 February birthdays included.
    today = date(2027, 12, 1)
    for _ in range(800):
        latest = adult_born_by(today)
        assert band_on(latest, today) is AgeBand.ADULT
        assert band_on(latest + timedelta(days=1), today) is not AgeBand.ADULT
        today += timedelta(days=1)
