"""`BandDirectory`: the one place the rest of Safe Accounts asks "what is this account's band?".

Reads come from the in-process cache when they can (`cached` never does I/O, for the
request path); the misses of a whole request are one query, and a miss for an account
already being fetched waits for that fetch instead of querying again, and while a few
fetches run, the misses of other requests gather into one next fetch (`_singleflight.py`).
An account with no record is cached as such, like one with a record. Changes go to the
store, to this process's cache, and to every other process's cache through Redis pub/sub.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING

from .._singleflight import Flights
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import storage_errors
from ..policy.model import BandCacheSettings
from .age import AgeBand, Assurance, BandRecord, unknown
from .cache import BandCache
from .invalidation import BandInvalidations
from .recording import new_record
from .store import BandStore

if TYPE_CHECKING:
    import redis.asyncio

# Fetches of bands one worker runs at once; more misses meanwhile wait and go in one query.
# Enough that a slow query does not hold up every request, few enough that a cold worker's
# burst is a handful of queries of many ids, not one per account queueing for the pool.
FETCHES_AT_ONCE = 4


class BandDirectory:
    """Age bands for the middleware: cached, batched, kept fresh across processes."""

    def __init__(
        self,
        store: BandStore,
        *,
        cache: BandCacheSettings,
        clock: Clock = SYSTEM_CLOCK,
        redis: redis.asyncio.Redis | None = None,
        channel_prefix: str = "safe_accounts:",
        fetches_at_once: int | None = FETCHES_AT_ONCE,
    ) -> None:
        """`fetches_at_once=None` starts a fetch for every miss no fetch in flight covers (as
        before misses gathered: for comparing the two)."""
        self.store = store
        # Read once: a store of the app's own making may not say (then: it does not).
        self.knows_every_account: bool = getattr(store, "knows_every_account", False)
        self._clock = clock
        self._cache = BandCache(cache, clock)
        # Bumped by every invalidation: a fetch that raced one must not cache what it read.
        self._epoch = 0
        # Misses being fetched: concurrent requests about one account make one query, and
        # concurrent requests about many accounts a few.
        self._flights: Flights[str, BandRecord] = Flights(at_once=fetches_at_once)
        self._invalidations = (
            None
            if redis is None
            else BandInvalidations(
                redis,
                f"{channel_prefix}bands",
                on_change=self._forget,
                on_reconnect=self._forget_all,
                ttl_seconds=cache.ttl_seconds,
            )
        )

    def cached(self, account_id: str) -> BandRecord | None:
        """The cached record (an `unknown` one for a cached "no record"); None when not cached."""
        return self._cache.get(account_id)

    def cached_all(self, account_ids: Sequence[str]) -> list[BandRecord] | None:
        """The cached records of all `account_ids`, in order; None if any is not cached."""
        return self._cache.get_all(account_ids)

    async def get(self, account_id: str) -> BandRecord:
        record = self._cache.get(account_id)
        if record is not None:
            return record
        return (await self.get_many((account_id,)))[account_id]

    async def get_many(self, ids: Iterable[str]) -> dict[str, BandRecord]:
        """A record for every id (`unknown` when there is none); all misses in one fetch."""
        found: dict[str, BandRecord] = {}
        missing: list[str] = []
        for account_id in ids:
            if account_id in found:
                continue
            record = self._cache.get(account_id)
            if record is None:
                missing.append(account_id)
            else:
                found[account_id] = record
        if not missing:
            return found
        missing = list(dict.fromkeys(missing))
        fetched = await self._flights.get(missing, self._fetch)
        for account_id in missing:
            record = fetched.get(account_id)
            found[account_id] = unknown(account_id) if record is None else record
        return found

    async def _fetch(self, missing: list[str]) -> dict[str, BandRecord]:
        """One query for `missing`, cached (an `unknown` record for each one without a record)
        unless an invalidation came while it ran."""
        epoch = self._epoch
        # A store of the app's own making fails like ours: as a StorageError.
        with storage_errors("reading age bands"):
            fetched = await self.store.fetch(missing)
        keep = epoch == self._epoch
        if keep:
            for account_id in missing:
                record = fetched.get(account_id)
                if record is None:
                    self._cache.put_unknown(account_id)
                else:
                    self._cache.put(record)
        return fetched

    async def set(
        self,
        account_id: str,
        *,
        band: AgeBand | None = None,
        birth_date: date | None = None,
        assurance: Assurance = Assurance.SELF_DECLARED,
        source: str = "api",
    ) -> BandRecord:
        """Record a band (or a birth date) for `account_id`, here and in every process."""
        record = new_record(
            account_id,
            band=band,
            birth_date=birth_date,
            assurance=assurance,
            source=source,
            clock=self._clock,
        )
        with storage_errors("writing age bands"):
            await self.store.put([record])
        self._epoch += 1
        self._flights.forget()
        self._cache.put(record)
        if self._invalidations is not None:
            await self._invalidations.publish([account_id])
        return record

    async def forget(self, account_ids: Sequence[str]) -> None:
        """Drop `account_ids` here and tell every process to: for changes written elsewhere
        (a bulk import)."""
        self._forget(account_ids)
        if self._invalidations is not None:
            await self._invalidations.publish(account_ids)

    async def start(self) -> None:
        """Subscribe to other processes' changes. Never raises: without Redis, TTL only."""
        if self._invalidations is not None:
            await self._invalidations.start()

    async def close(self) -> None:
        await self._flights.close()
        if self._invalidations is not None:
            await self._invalidations.close()

    @property
    def flights(self) -> Flights[str, BandRecord]:
        """The fetches in flight, and how many misses joined one (for health)."""
        return self._flights

    @property
    def subscribed(self) -> bool:
        """Whether other processes' changes reach this cache right now."""
        return self._invalidations is not None and self._invalidations.subscribed

    def _forget(self, account_ids: Sequence[str]) -> None:
        self._epoch += 1
        self._flights.forget()
        for account_id in account_ids:
            self._cache.discard(account_id)

    def _forget_all(self) -> None:
        self._epoch += 1
        self._flights.forget()
        self._cache.clear()


__all__ = ["BandDirectory"]
