"""A small bounded cache with a time-to-live, for the request path.

Plain dict in insertion order: a hit costs a dict lookup and a float compare; when
full, the oldest entries go first (FIFO is enough here: entries are short-lived and a
re-fetch is one batched query).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_MISSING = object()


class TTLCache(Generic[K, V]):
    __slots__ = ("_data", "_size", "_ttl", "_now")

    def __init__(self, size: int, ttl: float, now: Callable[[], float]) -> None:
        self._data: dict[K, tuple[float, V]] = {}
        self._size = size
        self._ttl = ttl
        self._now = now

    def get(self, key: K) -> V | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[0] <= self._now():
            self._data.pop(key, None)
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        data = self._data
        if key not in data and len(data) >= self._size:
            # Drop the oldest tenth at once: amortised O(1) per insertion.
            for old in list(data)[: max(1, self._size // 10)]:
                del data[old]
        data[key] = (self._now() + self._ttl, value)

    def discard(self, key: K) -> None:
        self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
