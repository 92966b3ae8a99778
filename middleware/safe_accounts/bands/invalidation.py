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
from typing import TYPE_CHECKING

from .._pubsub import FAILURES, PUBLISH_TIMEOUT, Subscription, describe

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
        self._subscription = Subscription(
            redis, [channel], on_message=self._received, on_down=self._warn, on_up=self._back
        )
        self._publish_failing = False

    @property
    def subscribed(self) -> bool:
        """Whether changes from other processes are arriving (False during an outage)."""
        return self._subscription.subscribed

    async def start(self) -> None:
        """Subscribe now if Redis answers; otherwise warn and keep trying in the background."""
        await self._subscription.start()

    async def publish(self, account_ids: Sequence[str]) -> None:
        if not account_ids:
            return
        message = "\n".join((self._origin, *account_ids))
        try:
            await asyncio.wait_for(self._redis.publish(self._channel, message), PUBLISH_TIMEOUT)
        except FAILURES as exc:
            if not self._publish_failing:
                self._publish_failing = True
                logger.warning(PUBLISH_FAILED, describe(exc), self._ttl)
        else:
            self._publish_failing = False

    async def close(self) -> None:
        await self._subscription.close()

    def _received(self, channel: str, text: str) -> None:
        origin, _, ids = text.partition("\n")
        if origin != self._origin and ids:
            self._on_change(ids.split("\n"))

    def _warn(self, exc: BaseException) -> None:
        logger.warning(REDIS_UNREACHABLE, describe(exc), self._ttl)

    def _back(self) -> None:
        self._on_reconnect()
        logger.info(REDIS_BACK)
