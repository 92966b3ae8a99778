"""How old an account is: the host's creation date read once, in whatever shape its table
holds it, and the age counted from it at each decision."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from safe_accounts import FrozenClock, StorageError
from safe_accounts.decide.accounts import AccountAges
from safe_accounts.policy.model import Accounts, Lookup

NOW = 1_800_000_000
DAY = 86_400
# What the host's lookup answers, by account; the calls it got.
CREATED: dict[str, Any] = {}
ASKED: list[str] = []


def created_at(account: str) -> list[Any]:
    """Rows, as a lookup gives them: one with the date, or none."""
    ASKED.append(account)
    return [CREATED[account]] if account in CREATED else []


def ages(clock: FrozenClock) -> AccountAges:
    lookup = Lookup(callable="tests.decide.test_accounts:created_at")
    return AccountAges(Accounts(created_at=lookup, cache_seconds=7 * DAY), None, clock=clock)


@pytest.mark.parametrize(
    "stored",
    [
        NOW - 2 * DAY,  # seconds since the epoch
        datetime.fromtimestamp(NOW - 2 * DAY, UTC),  # an aware timestamp
        datetime.fromtimestamp(NOW - 2 * DAY, UTC).replace(tzinfo=None),  # a naive one: UTC
        datetime.fromtimestamp(NOW - 2 * DAY, UTC).isoformat(),  # ISO text
        str(NOW - 2 * DAY),  # seconds, as text
    ],
)
async def test_a_creation_date_is_read_in_any_shape_a_table_holds_it(stored: Any) -> None:
    CREATED["ann"] = stored
    assert await ages(FrozenClock(NOW)).age_days("ann") == pytest.approx(2.0)


async def test_a_date_is_its_first_midnight_in_utc() -> None:
    CREATED["bo"] = date.fromtimestamp(NOW)  # today: at most a day old
    assert 0.0 <= await ages(FrozenClock(NOW)).age_days("bo") < 1.0


async def test_no_date_counts_as_created_now() -> None:
    CREATED.pop("cy", None)
    assert await ages(FrozenClock(NOW)).age_days("cy") == 0.0


async def test_the_date_is_read_once_and_the_age_grows_with_the_clock() -> None:
    CREATED["dee"] = NOW - DAY
    clock = FrozenClock(NOW)
    found = ages(clock)
    assert found.cached_age_days("dee") is None  # not asked yet
    assert await found.age_days("dee") == pytest.approx(1.0)
    clock.advance(DAY)
    assert found.cached_age_days("dee") == pytest.approx(2.0)
    assert ASKED.count("dee") == 1


async def test_a_value_that_is_no_date_is_a_storage_error() -> None:
    CREATED["ed"] = "next tuesday"
    with pytest.raises(StorageError, match="no date"):
        await ages(FrozenClock(NOW)).age_days("ed")
