"""The relationship cache: answers per (actor, target), forgotten per account.

A block or an answered contact request forgets every pair of its accounts, in every
worker. A scan of the whole cache per change made each change cost the worker in
proportion to everything it caches: under load, with thousands of pairs cached and
changes arriving from every worker, the scans took a tenth of the workers' CPU. Here each
account knows its cached pairs, so forgetting one costs as many pairs as it has.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from .._ttlcache import TTLCache

V = TypeVar("V")
Pair = tuple[str, str]


class PairCache(TTLCache[Pair, V]):
    """A `TTLCache` of pairs that forgets by account (`discard_involving`)."""

    __slots__ = ("_by_account",)

    def __init__(self, size: int, ttl: float, now: Callable[[], float]) -> None:
        super().__init__(size, ttl, now)
        self._by_account: dict[str, set[Pair]] = {}

    def get(self, key: Pair) -> V | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[0] <= self._now():
            self._drop(key)
            return None
        return entry[1]

    def put(self, key: Pair, value: V) -> None:
        data = self._data
        if key not in data:
            if len(data) >= self._size:
                # Drop the oldest tenth at once: amortised O(1) per insertion.
                for old in list(data)[: max(1, self._size // 10)]:
                    self._drop(old)
            index = self._by_account
            for account in key:
                keys = index.get(account)
                if keys is None:
                    index[account] = {key}
                else:
                    keys.add(key)
        data[key] = (self._now() + self._ttl, value)

    def discard(self, key: Pair) -> None:
        self._drop(key)

    def discard_involving(self, accounts: Iterable[str]) -> None:
        """Forget every pair in which one of `accounts` is either side."""
        index = self._by_account
        for account in accounts:
            for key in list(index.get(account, ())):
                self._drop(key)

    def clear(self) -> None:
        self._data.clear()
        self._by_account.clear()

    def accounts_indexed(self) -> int:
        """How many accounts have a pair cached (the index holds no account without one)."""
        return len(self._by_account)

    def _drop(self, key: Pair) -> None:
        if self._data.pop(key, None) is None:
            return
        index = self._by_account
        for account in key:
            keys = index.get(account)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del index[account]
