"""How old an account is, from the host app's own tables (`accounts.created_at`), cached.

A rule may ask how many days ago the actor's account was created (`actor_account_age_days`):
a new account reaching children is one of the patterns the policy may act on. The date is
read with the policy's lookup (SQL or a callable) for one account, the first time a rule
needs it (concurrent misses for one account share that read: `_singleflight.py`), and
remembered per account for `accounts.cache_seconds`, "no date" as well; the age is counted from
the date on each decision, so it grows with time and no write. An account the lookup gives
no date for (no row, a null) counts as created now: 0 days, the youngest an account can be.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from .._singleflight import Flights
from .._ttlcache import TTLCache
from ..clock import Clock
from ..errors import StorageError
from ..policy.model import Accounts
from ..relations.lookup import Lookup, compile_lookup

DAY = 86_400.0
# The creation time of an account the lookup gives no date for: never in the past.
NO_DATE = math.inf


class AccountAges:
    """`AccountFacts` from the host's lookup. Without one, every account is 0 days old (the
    policy refuses rules on account age without a lookup, so none asks)."""

    __slots__ = ("_created", "_flights", "_lookup", "_now")

    def __init__(self, config: Accounts, engine: AsyncEngine | None, *, clock: Clock) -> None:
        self._lookup: Lookup | None = (
            None if config.created_at is None else compile_lookup("accounts.created_at", config.created_at, engine)
        )
        self._created: TTLCache[str, float] = TTLCache(config.cache_size, max(config.cache_seconds, 0.001), clock.now)
        self._now = clock.now
        self._flights: Flights[str, float] = Flights()

    def cached_age_days(self, account_id: str) -> float | None:
        """The account's age in days from the cache alone; None when not cached."""
        created = self._created.get(account_id)
        return None if created is None else _days(self._now(), created)

    async def age_days(self, account_id: str) -> float:
        """The account's age in days: from the cache, else one lookup (raises StorageError)."""
        created = self._created.get(account_id)
        if created is None:
            created = (await self._flights.get((account_id,), self._look_up))[account_id]
        return _days(self._now(), created)

    async def _look_up(self, accounts: list[str]) -> dict[str, float]:
        (account_id,) = accounts
        created = NO_DATE if self._lookup is None else _moment(await self._lookup.scalar(account=account_id))
        self._created.put(account_id, created)
        return {account_id: created}

    @property
    def flights(self) -> Flights[str, float]:
        """The lookups in flight, and how many misses joined one (for health)."""
        return self._flights

    async def close(self) -> None:
        await self._flights.close()


def _days(now: float, created: float) -> float:
    return max(0.0, (now - created) / DAY)


def _moment(value: Any) -> float:
    """A creation date as the host's table gives it, in seconds since the epoch."""
    if value is None:
        return NO_DATE
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, date):
        return datetime.combine(value, time(), UTC).timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return _moment(datetime.fromisoformat(text))
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            pass
    raise StorageError(f"accounts.created_at gave {value!r}, which is no date")
