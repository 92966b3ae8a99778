"""The in-process band cache: bounded, least recently used out first, entries expire.

Unknown accounts are cached too (a search page full of accounts without a record must
not cost a query each time). An entry never serves a band past the day the record's
band changes (a birthday): from that moment the band is recomputed from the record.

Memory: one entry is a 4-tuple and the record, with `__slots__` throughout, about
300 bytes; 100,000 entries stay well under 50 MB (measured in `bench/bench_bands.py`).
An unknown account's entry holds its `unknown` record too: a search page full of them
reads the same record back instead of building one per read.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from ..clock import Clock
from ..policy.model import BandCacheSettings
from .age import BandRecord, band_on, unknown

_NEVER = math.inf


def _midnight(day: date | None) -> float:
    """The first second (UTC epoch) of `day`: when a band may change by itself."""
    if day is None:
        return _NEVER
    return datetime.combine(day, time(), UTC).timestamp()


class BandCache:
    """Account id -> record (or "no record"), for at most `settings.size` accounts."""

    __slots__ = ("_entries", "_size", "_ttl", "_clock", "_now")

    def __init__(self, settings: BandCacheSettings, clock: Clock) -> None:
        # id -> (record, good until, expires at, band changes at); "good until" is the
        # earlier of the two, so that a read on the request path makes one comparison.
        self._entries: OrderedDict[str, tuple[BandRecord, float, float, float]] = OrderedDict()
        self._size = settings.size
        self._ttl = settings.ttl_seconds
        self._clock = clock
        self._now = clock.now

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, account_id: object) -> bool:
        return account_id in self._entries

    def get(self, account_id: str) -> BandRecord | None:
        """The cached record, an `unknown` record for a cached "no record", or None on a miss."""
        entry = self._entries.get(account_id)
        if entry is None:
            return None
        now = self._now()
        if now < entry[1]:
            self._entries.move_to_end(account_id)
            return entry[0]
        return self._stale(account_id, entry, now)

    def get_all(self, account_ids: Sequence[str]) -> list[BandRecord] | None:
        """`get` of each of `account_ids` in order, as of one clock read (a page of accounts
        is one moment); None at the first one not cached."""
        entries = self._entries
        move_to_end = entries.move_to_end
        now = self._now()
        out: list[BandRecord] = []
        for account_id in account_ids:
            entry = entries.get(account_id)
            if entry is None:
                return None
            if now < entry[1]:
                move_to_end(account_id)
                out.append(entry[0])
                continue
            record = self._stale(account_id, entry, now)
            if record is None:
                return None
            out.append(record)
        return out

    def _stale(
        self, account_id: str, entry: tuple[BandRecord, float, float, float], now: float
    ) -> BandRecord | None:
        """An entry past its TTL is dropped; one past a birthday moves on."""
        record, _, expires, _ = entry
        if now >= expires:
            del self._entries[account_id]
            return None
        self._entries.move_to_end(account_id)
        return self._moved_on(record, expires)

    def put(self, record: BandRecord) -> None:
        today = self._clock.today()
        self._store(record.account_id, record, _midnight(record.valid_until(today)))

    def put_unknown(self, account_id: str) -> None:
        self._store(account_id, unknown(account_id), _NEVER)

    def discard(self, account_id: str) -> None:
        self._entries.pop(account_id, None)

    def clear(self) -> None:
        self._entries.clear()

    def _store(self, account_id: str, record: BandRecord, changes: float) -> None:
        entries = self._entries
        expires = self._now() + self._ttl
        entries[account_id] = (record, min(expires, changes), expires, changes)
        entries.move_to_end(account_id)
        while len(entries) > self._size:
            entries.popitem(last=False)

    def _moved_on(self, record: BandRecord, expires: float) -> BandRecord:
        """A birthday passed since caching: the band as of today, cached until the next one."""
        assert record.birth_date is not None
        today = self._clock.today()
        band = band_on(record.birth_date, today)
        moved = BandRecord(
            record.account_id,
            band,
            record.assurance,
            record.source,
            record.birth_date if band.is_minor else None,
            record.changed_at,
        )
        changes = _midnight(moved.valid_until(today))
        self._entries[record.account_id] = (moved, min(expires, changes), expires, changes)
        return moved
