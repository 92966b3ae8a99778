"""Who is connected to whom, from the host app's own tables, behind a short cache.

A discovery page asks "which of these 50 accounts are the viewer's connections?" in one
query; a DM asks about one pair. Answers are cached per (actor, target) for
`relationships.cache_seconds`, so a conversation's second message costs no SQL.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.ext.asyncio import AsyncEngine

from .._ttlcache import TTLCache
from ..clock import SYSTEM_CLOCK, Clock
from ..policy import model
from .lookup import Lookup, compile_lookup


class RelationshipDirectory:
    def __init__(
        self, config: model.Relationships, engine: AsyncEngine | None, *, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self._connected: Lookup | None = (
            compile_lookup("relationships.connected", config.connected, engine)
            if config.connected
            else None
        )
        self._mutual: Lookup | None = (
            compile_lookup("relationships.mutual_count", config.mutual_count, engine)
            if config.mutual_count
            else None
        )
        ttl = max(config.cache_seconds, 0.001)
        self._pairs: TTLCache[tuple[str, str], bool] = TTLCache(config.cache_size, ttl, clock.now)
        self._mutuals: TTLCache[tuple[str, str], int] = TTLCache(config.cache_size, ttl, clock.now)

    @property
    def knows_connections(self) -> bool:
        return self._connected is not None

    def cached_connected(self, actor: str, target: str) -> bool | None:
        return self._pairs.get((actor, target))

    def cached_mutual(self, actor: str, target: str) -> int | None:
        return self._mutuals.get((actor, target))

    async def connected_among(self, actor: str, targets: Collection[str]) -> frozenset[str]:
        """Those of `targets` who are `actor`'s connections. Misses cost one query in all."""
        if self._connected is None or not targets:
            return frozenset()
        found: set[str] = set()
        misses: list[str] = []
        for target in targets:
            hit = self._pairs.get((actor, target))
            if hit is None:
                misses.append(target)
            elif hit:
                found.add(target)
        if misses:
            connected = set(await self._connected.ids(actor=actor, targets=misses))
            for target in misses:
                is_connected = target in connected
                self._pairs.put((actor, target), is_connected)
                # Connections are symmetric (friends, mutual follows): cache both ways.
                self._pairs.put((target, actor), is_connected)
                if is_connected:
                    found.add(target)
        return frozenset(found)

    async def mutual(self, actor: str, target: str) -> int:
        """How many connections `actor` and `target` share (0 when no source is configured)."""
        if self._mutual is None:
            return 0
        hit = self._mutuals.get((actor, target))
        if hit is not None:
            return hit
        value = int(await self._mutual.scalar(actor=actor, target=target) or 0)
        self._mutuals.put((actor, target), value)
        self._mutuals.put((target, actor), value)
        return value

    def forget(self, account: str) -> None:
        """Drop what is cached about `account` (after the app changes its connections)."""
        self._pairs.discard_where(lambda key: account in key)
        self._mutuals.discard_where(lambda key: account in key)
