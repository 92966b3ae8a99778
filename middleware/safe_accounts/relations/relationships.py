"""Who is connected to whom, from the host app's own tables, behind a short cache.

A discovery page asks "which of these 50 accounts are the viewer's connections?" in one
query; a DM asks about one pair. Answers are cached per (actor, target) for
`relationships.cache_seconds`, so a conversation's second message costs no SQL. "Not
connected" and "no mutual connection" are cached like any other answer, and forgotten the
same way. A miss for a pair already being looked up waits for that lookup instead of
querying again (`_singleflight.py`): a burst of messages to one account is one query.

A change the middleware sees (a block, an accepted or rejected request) is forgotten in
every worker before it is answered (`forget_everywhere`, over Redis pub/sub; without
Redis there is one worker and it forgets locally). While a worker's subscription is
down it caches nothing, so no change it could miss is ever answered from its cache.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine

from .._singleflight import Flights
from ..clock import SYSTEM_CLOCK, Clock
from ..policy import model
from .invalidation import RelationshipInvalidations
from .lookup import Lookup, compile_lookup
from .pair_cache import PairCache

if TYPE_CHECKING:
    import redis.asyncio


class RelationshipDirectory:
    def __init__(
        self,
        config: model.Relationships,
        engine: AsyncEngine | None,
        *,
        clock: Clock = SYSTEM_CLOCK,
        redis: redis.asyncio.Redis | None = None,
        channel_prefix: str = "safe_accounts:",
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
        self._pairs: PairCache[bool] = PairCache(config.cache_size, ttl, clock.now)
        self._mutuals: PairCache[int] = PairCache(config.cache_size, ttl, clock.now)
        # Bumped by every forget: a lookup that raced one must not cache what it read.
        self._epoch = 0
        self._caching = True
        # Pairs being looked up: concurrent misses for one pair make one query.
        self._connecting: Flights[tuple[str, str], bool] = Flights()
        self._counting: Flights[tuple[str, str], int] = Flights()
        self._invalidations = (
            None
            if redis is None
            else RelationshipInvalidations(
                redis, channel_prefix, on_change=self._forget_all_of, on_down=self._stop_caching,
                on_up=self._start_caching, ttl_seconds=config.cache_seconds,
            )
        )

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
            pairs = [(actor, t) for t in dict.fromkeys(misses)]
            answers = await self._connecting.get(pairs, self._look_up_connected)
            found.update(target for (_, target), is_connected in answers.items() if is_connected)
        return frozenset(found)

    async def _look_up_connected(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], bool]:
        """One query for `pairs` (all of one actor), every answer cached, "no" as well as "yes"."""
        assert self._connected is not None
        actor = pairs[0][0]
        epoch = self._epoch
        connected = set(await self._connected.ids(actor=actor, targets=[t for _, t in pairs]))
        keep = self._caching and epoch == self._epoch
        answers: dict[tuple[str, str], bool] = {}
        for pair in pairs:
            target = pair[1]
            is_connected = answers[pair] = target in connected
            if keep:
                self._pairs.put(pair, is_connected)
                # Connections are symmetric (friends, mutual follows): cache both ways.
                self._pairs.put((target, actor), is_connected)
        return answers

    async def mutual(self, actor: str, target: str) -> int:
        """How many connections `actor` and `target` share (0 when no source is configured)."""
        if self._mutual is None:
            return 0
        hit = self._mutuals.get((actor, target))
        if hit is not None:
            return hit
        pair = (actor, target)
        return (await self._counting.get((pair,), self._count_mutual))[pair]

    async def _count_mutual(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """One query for the one pair, its count cached, 0 as well as any other."""
        assert self._mutual is not None
        ((actor, target),) = pairs
        epoch = self._epoch
        value = int(await self._mutual.scalar(actor=actor, target=target) or 0)
        if self._caching and epoch == self._epoch:
            self._mutuals.put((actor, target), value)
            self._mutuals.put((target, actor), value)
        return {(actor, target): value}

    def forget(self, *accounts: str) -> None:
        """Drop what this worker caches about `accounts`, each way (their pairs only)."""
        if not accounts:
            return
        self._epoch += 1
        self._forget_flights()
        self._pairs.discard_involving(accounts)
        self._mutuals.discard_involving(accounts)

    async def forget_everywhere(self, accounts: Collection[str]) -> bool:
        """Drop what every worker caches about `accounts`, here first; returns once every
        subscribed worker confirmed (True), or when they could not all be reached (False,
        logged). Never raises: the change it follows is already made."""
        accounts = list(dict.fromkeys(accounts))
        if not accounts:
            return True
        self.forget(*accounts)
        if self._invalidations is None:
            return True  # one worker: forgetting here is forgetting everywhere
        return await self._invalidations.publish(accounts)

    async def start(self) -> None:
        """Subscribe to other workers' changes. Never raises: while Redis is down, no caching."""
        if self._invalidations is not None:
            await self._invalidations.start()

    async def close(self) -> None:
        await self._connecting.close()
        await self._counting.close()
        if self._invalidations is not None:
            await self._invalidations.close()

    @property
    def flights(self) -> dict[str, Flights[tuple[str, str], Any]]:
        """The lookups in flight, by kind, and how many misses joined one (for health)."""
        return {"connected": self._connecting, "mutual_count": self._counting}

    @property
    def subscribed(self) -> bool:
        """Whether other workers' changes reach this cache right now (always, with one worker)."""
        return self._invalidations is None or self._invalidations.subscribed

    def _forget_all_of(self, accounts: Sequence[str]) -> None:
        self.forget(*accounts)

    def _forget_flights(self) -> None:
        # A change came: later misses must not join a lookup that began before it.
        self._connecting.forget()
        self._counting.forget()

    def _stop_caching(self) -> None:
        # Changes published while the subscription is down would be missed: cache nothing.
        self._caching = False
        self._clear()

    def _start_caching(self) -> None:
        self._clear()
        self._caching = True

    def _clear(self) -> None:
        self._epoch += 1
        self._forget_flights()
        self._pairs.clear()
        self._mutuals.clear()
