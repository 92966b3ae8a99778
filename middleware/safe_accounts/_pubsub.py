"""One process's subscription to Redis pub/sub channels, kept alive through outages.

Shared by the caches that other processes invalidate (bands, relationships). Redis being
down never reaches callers: the owner is told once when the subscription goes down and
once when it is back (messages published meanwhile were missed, so it drops what it
cached), and the subscription is retried in the background with backoff.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

if TYPE_CHECKING:
    import redis.asyncio

SUBSCRIBE_TIMEOUT = 5.0
# The listener waits for a message this long at a time, then waits again. A wait with no
# timeout is not "forever" on every redis-py: 5.x reads it with the client's socket timeout
# (2 s in the runtime) and raises, which looked like an outage on every quiet spell. A wait
# with its own timeout returns None on every version when nothing arrived.
LISTEN_WAIT = 1.0
PUBLISH_TIMEOUT = 2.0
RETRY_FIRST = 0.5
RETRY_MAX = 30.0

FAILURES = (RedisError, OSError, asyncio.TimeoutError)


class Subscription:
    """`on_message(channel, text)` for every message on `channels`, from `start` to `close`.

    `on_down(exc)` is called when the subscription is lost (or cannot be made), `on_up()`
    when it is made again after that: each once per outage.
    """

    def __init__(
        self,
        redis: redis.asyncio.Redis,
        channels: Sequence[str],
        *,
        on_message: Callable[[str, str], None],
        on_down: Callable[[BaseException], None],
        on_up: Callable[[], None],
    ) -> None:
        self._redis = redis
        self._channels = tuple(channels)
        self._on_message = on_message
        self._on_down = on_down
        self._on_up = on_up
        self._task: asyncio.Task[None] | None = None
        self._degraded = False

    @property
    def subscribed(self) -> bool:
        """Whether messages are arriving (False before `start` and during an outage)."""
        return self._task is not None and not self._degraded

    async def start(self) -> None:
        """Subscribe now if Redis answers; otherwise report it down and keep trying."""
        if self._task is not None:
            return
        pubsub = await self._try_subscribe()
        self._task = asyncio.create_task(self._listen(pubsub), name=f"safe-accounts {self._channels[0]}")

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
            await asyncio.wait_for(pubsub.subscribe(*self._channels), SUBSCRIBE_TIMEOUT)
        except FAILURES as exc:
            await quietly_close(pubsub)
            self._down(exc)
            return None
        if self._degraded:
            self._degraded = False
            self._on_up()
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
                    message = await pubsub.get_message(timeout=LISTEN_WAIT)
                except FAILURES as exc:
                    self._down(exc)
                    await quietly_close(pubsub)
                    pubsub = None
                    continue
                if message is not None and message.get("type") == "message":
                    self._on_message(_text(message["channel"]), _text(message["data"]))
        finally:
            if pubsub is not None:
                await quietly_close(pubsub)

    def _down(self, exc: BaseException) -> None:
        if not self._degraded:
            self._degraded = True
            self._on_down(exc)


def describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def quietly_close(pubsub: Any) -> None:
    try:
        await pubsub.aclose()
    except FAILURES:
        pass  # the connection is already gone; nothing is left to release
