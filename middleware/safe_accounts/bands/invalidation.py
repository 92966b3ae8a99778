"""Band changes told to every process, over Redis pub/sub.

A change made in one process (the API, the CLI, an import) is published on
`{prefix}bands`; every subscribed process drops those accounts from its cache. Redis
being down never reaches callers: the cache falls back to its TTL, the log says so
once, and the subscription is retried in the background with backoff. After an outage
the whole cache is dropped, since changes published meanwhile were missed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

if TYPE_CHECKING:
    import redis.asyncio

logger = logging.getLogger("safe_accounts.bands")

# Log messages are constants so that tests and code cannot drift apart.
REDIS_UNREACHABLE = (
    "band cache invalidation: Redis unreachable (%s); cached bands now expire by TTL "
    "(%.0f s) only, retrying the subscription in the background"
)
REDIS_BACK = "band cache invalidation: Redis reachable again; the band cache was cleared"
PUBLISH_FAILED = (
    "band change not published: Redis unreachable (%s); other processes see it when their "
    "cached entry expires (TTL %.0f s)"
)

SUBSCRIBE_TIMEOUT = 5.0
PUBLISH_TIMEOUT = 2.0
RETRY_FIRST = 0.5
RETRY_MAX = 30.0

_FAILURES = (RedisError, OSError, asyncio.TimeoutError)


class BandInvalidations:
    """One process's end of the `{prefix}bands` channel.

    A message is this process's origin token, then the changed account ids, one per
    line (account ids never hold control characters). A process ignores its own
    messages: it already updated its cache when it made the change.
    """

    def __init__(
        self,
        redis: redis.asyncio.Redis,
        channel: str,
        *,
        on_change: Callable[[Sequence[str]], None],
        on_reconnect: Callable[[], None],
        ttl_seconds: float,
    ) -> None:
        self._redis = redis
        self._channel = channel
        self._on_change = on_change
        self._on_reconnect = on_reconnect
        self._ttl = ttl_seconds
        self._origin = uuid.uuid4().hex
        self._task: asyncio.Task[None] | None = None
        self._degraded = False  # the subscription is down
        self._publish_failing = False

    @property
    def subscribed(self) -> bool:
        """Whether changes from other processes are arriving (False during an outage)."""
        return self._task is not None and not self._degraded

    async def start(self) -> None:
        """Subscribe now if Redis answers; otherwise warn and keep trying in the background."""
        if self._task is not None:
            return
        pubsub = await self._try_subscribe()
        self._task = asyncio.create_task(
            self._listen(pubsub), name=f"safe-accounts {self._channel}"
        )

    async def publish(self, account_ids: Sequence[str]) -> None:
        if not account_ids:
            return
        message = "\n".join((self._origin, *account_ids))
        try:
            await asyncio.wait_for(self._redis.publish(self._channel, message), PUBLISH_TIMEOUT)
        except _FAILURES as exc:
            if not self._publish_failing:
                self._publish_failing = True
                logger.warning(PUBLISH_FAILED, _describe(exc), self._ttl)
        else:
            self._publish_failing = False

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _try_subscribe(self) -> Any:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await asyncio.wait_for(pubsub.subscribe(self._channel), SUBSCRIBE_TIMEOUT)
        except _FAILURES as exc:
            await _quietly_close(pubsub)
            self._warn(exc)
            return None
        if self._degraded:
            self._degraded = False
            self._on_reconnect()
            logger.info(REDIS_BACK)
        return pubsub

    async def _listen(self, pubsub: Any) -> None:
        delay = RETRY_FIRST
        try:
            while True:
                if pubsub is None:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX)
                    pubsub = await self._try_subscribe()
                    continue
                delay = RETRY_FIRST
                try:
                    message = await pubsub.get_message(timeout=None)
                except _FAILURES as exc:
                    self._warn(exc)
                    await _quietly_close(pubsub)
                    pubsub = None
                    continue
                if message is not None and message.get("type") == "message":
                    self._received(message["data"])
        finally:
            if pubsub is not None:
                await _quietly_close(pubsub)

    def _received(self, data: bytes | str) -> None:
        text = data.decode() if isinstance(data, bytes) else data
        origin, _, ids = text.partition("\n")
        if origin != self._origin and ids:
            self._on_change(ids.split("\n"))

    def _warn(self, exc: BaseException) -> None:
        if not self._degraded:
            self._degraded = True
            logger.warning(REDIS_UNREACHABLE, _describe(exc), self._ttl)


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


async def _quietly_close(pubsub: Any) -> None:
    try:
        await pubsub.aclose()
    except _FAILURES:
        pass  # the connection is already gone; nothing is left to release
