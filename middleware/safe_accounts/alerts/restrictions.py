"""Restrictions: accounts an alert (or a moderator) has restricted until a moderator decides.

The request path asks `is_restricted` - a set lookup, no I/O. The set is loaded from SQL at
start, kept current across workers by Redis pub/sub (a message names the account; each
worker re-reads that account from SQL, so messages can never leave it wrong), and
reloaded in full every `refresh_interval` seconds and after any pub/sub reconnection, in
case a message was missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import storage_errors
from .tables import restrictions

logger = logging.getLogger(__name__)

RESTRICTED = "account restricted: %s (%s)"
LIFTED = "restriction lifted: %s by %s"
PUBSUB_LOST = "restrictions: Redis pub/sub connection lost, relying on SQL refresh until it returns: %s"
REFRESH_FAILED = "restrictions: SQL refresh failed, keeping the last known set: %s"

CHANNEL = "restrictions"


async def insert_restriction(
    conn: AsyncConnection,
    account_id: str,
    *,
    reason: str,
    alert_id: str | None,
    by: str,
    at: float,
) -> None:
    """Write one restriction row inside the caller's transaction (an alert and its
    restriction are committed together)."""
    await conn.execute(
        restrictions.insert().values(
            account_id=account_id, alert_id=alert_id, reason=reason, created_at=at, created_by=by
        )
    )


class Restrictions:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        redis_url: str | None = None,
        prefix: str = "safe_accounts:",
        clock: Clock = SYSTEM_CLOCK,
        refresh_interval: float = 10.0,
    ) -> None:
        self._engine = engine
        self._redis_url = redis_url
        self._channel = f"{prefix}{CHANNEL}"
        self._clock = clock
        self._refresh_interval = refresh_interval
        self._active: frozenset[str] = frozenset()
        # Bumped by every change applied here; a full reload that raced one is not trusted.
        self._changes = 0
        self._publisher: Redis | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()

    # --- the request path -----------------------------------------------------------

    def is_restricted(self, account_id: str) -> bool:
        return account_id in self._active

    @property
    def active(self) -> frozenset[str]:
        return self._active

    # --- moderation -----------------------------------------------------------------

    async def restrict(
        self, account_id: str, *, reason: str, alert_id: str | None = None, by: str = "system"
    ) -> None:
        with storage_errors(f"recording the restriction of {account_id!r}"):
            async with self._engine.begin() as conn:
                await insert_restriction(
                    conn, account_id, reason=reason, alert_id=alert_id, by=by, at=self._clock.now()
                )
        logger.warning(RESTRICTED, account_id, reason)
        await self.announce(account_id, restricted=True)

    async def lift(self, account_id: str, *, by: str, note: str = "") -> None:
        with storage_errors(f"lifting the restriction of {account_id!r}"):
            async with self._engine.begin() as conn:
                await conn.execute(
                    update(restrictions)
                    .where(restrictions.c.account_id == account_id, restrictions.c.lifted_at.is_(None))
                    .values(lifted_at=self._clock.now(), lifted_by=by, lift_note=note)
                )
        logger.warning(LIFTED, account_id, by)
        await self.announce(account_id, restricted=False)

    async def announce(self, account_id: str, *, restricted: bool) -> None:
        """Apply a change here at once, and tell the other workers."""
        self._changes += 1
        self._active = self._active | {account_id} if restricted else self._active - {account_id}
        if self._publisher is not None:
            try:
                await self._publisher.publish(self._channel, account_id)
            except (redis_errors.RedisError, OSError) as exc:
                logger.warning(PUBSUB_LOST, exc)  # the other workers' SQL refresh catches up

    # --- keeping current ------------------------------------------------------------

    async def refresh(self) -> None:
        """Reload the whole set from SQL.

        A change announced while the query ran may be missing from (or stale in) its answer:
        then the answer is dropped and the next refresh, which sees the change, is trusted.
        """
        changes = self._changes
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(restrictions.c.account_id).where(restrictions.c.lifted_at.is_(None)).distinct()
            )
            loaded = frozenset(r[0] for r in rows)
        if changes == self._changes:
            self._active = loaded

    async def _reload(self, account_id: str) -> None:
        async with self._engine.connect() as conn:
            row = await conn.execute(
                select(restrictions.c.id)
                .where(restrictions.c.account_id == account_id, restrictions.c.lifted_at.is_(None))
                .limit(1)
            )
            restricted = row.first() is not None
        self._changes += 1
        self._active = self._active | {account_id} if restricted else self._active - {account_id}

    async def start(self) -> None:
        await self.refresh()
        self._tasks.append(asyncio.create_task(self._refresh_forever(), name="safe-accounts-restrictions-refresh"))
        if self._redis_url is not None:
            self._publisher = Redis.from_url(self._redis_url, socket_connect_timeout=2, socket_timeout=2)
            self._tasks.append(asyncio.create_task(self._listen_forever(), name="safe-accounts-restrictions-listen"))
            # Changes made before the subscription is live would only arrive by refresh.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._subscribed.wait(), 2.0)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._publisher is not None:
            publisher, self._publisher = self._publisher, None
            await publisher.aclose()

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_interval)
            try:
                await self.refresh()
            except Exception as exc:  # noqa: BLE001 - keep the last known set
                logger.warning(REFRESH_FAILED, exc)

    async def _listen_forever(self) -> None:
        assert self._redis_url is not None
        delay = 0.1
        while True:
            client = Redis.from_url(self._redis_url, socket_connect_timeout=2)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                await self.refresh()  # anything missed while not subscribed
                self._subscribed.set()
                delay = 0.1
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        data = message["data"]
                        await self._reload(data.decode() if isinstance(data, bytes) else str(data))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect; SQL refresh covers the gap
                logger.warning(PUBSUB_LOST, exc)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
