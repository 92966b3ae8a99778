"""Relationship changes told to every worker, confirmed before the change is answered.

A block must beat every DM decided after it was answered, in every worker: the worker
that saw the block publishes the accounts on `{prefix}relationships`, every subscribed
worker (itself included) drops them from its relationship cache and confirms on the
publisher's own channel `{prefix}relationships.confirm.{origin}`, and the publisher
waits until as many workers confirmed as Redis says received the message. Only then is
the block's answer sent.

When the confirmations do not all come (Redis down, a worker stalled beyond
`CONFIRM_TIMEOUT`), the publisher says so in the log and goes on: the app has already
made the change, and refusing its answer would only make the client try again. What a
silent worker cached expires within `relationships.cache_seconds`; a worker whose own
subscription is down caches no relationship at all until it is back (see
`RelationshipDirectory`).

Redis Cluster: PUBLISH reaches every node but counts only the subscribers of the node it
was sent to, so only the workers subscribed through that node are waited for.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING

from .._pubsub import FAILURES, Subscription, describe

if TYPE_CHECKING:
    import redis.asyncio

logger = logging.getLogger("safe_accounts.relationships")

REDIS_UNREACHABLE = (
    "relationship cache invalidation: Redis unreachable (%s); relationships are not cached "
    "in this worker until it is back"
)
REDIS_BACK = "relationship cache invalidation: Redis reachable again; relationships are cached again"
NOT_CONFIRMED = (
    "relationship change of %d account(s) not confirmed by every worker (%s); what another "
    "worker cached about them expires within %.0f s"
)

# How long a block's answer waits for every worker to confirm: past it, the answer goes
# and the log says which change was not confirmed.
CONFIRM_TIMEOUT = 1.0


class _Confirmations:
    """The confirmations of one published change, counted until Redis's receiver count."""

    __slots__ = ("done", "expected", "received")

    def __init__(self) -> None:
        self.received = 0
        self.expected: int | None = None
        self.done = asyncio.Event()

    def check(self) -> None:
        if self.expected is not None and self.received >= self.expected:
            self.done.set()


class RelationshipInvalidations:
    """One worker's end of the `{prefix}relationships` channel.

    A change is `origin`, a nonce, then the account ids, one per line (account ids never
    hold control characters); a confirmation is the nonce, sent to the origin's channel.
    """

    def __init__(
        self,
        redis: redis.asyncio.Redis,
        prefix: str,
        *,
        on_change: Callable[[Sequence[str]], None],
        on_down: Callable[[], None],
        on_up: Callable[[], None],
        ttl_seconds: float,
    ) -> None:
        self._redis = redis
        self._channel = f"{prefix}relationships"
        self._origin = uuid.uuid4().hex
        self._confirm_channel = f"{self._channel}.confirm.{self._origin}"
        self._on_change = on_change
        self._on_down = on_down
        self._on_up = on_up
        self._ttl = ttl_seconds
        self._waiting: dict[str, _Confirmations] = {}
        self._confirming: set[asyncio.Task[None]] = set()
        self._subscription = Subscription(
            redis,
            [self._channel, self._confirm_channel],
            on_message=self._received,
            on_down=self._down,
            on_up=self._up,
        )

    @property
    def subscribed(self) -> bool:
        return self._subscription.subscribed

    async def start(self) -> None:
        await self._subscription.start()

    async def close(self) -> None:
        await self._subscription.close()
        for task in list(self._confirming):
            task.cancel()
        if self._confirming:
            await asyncio.gather(*self._confirming, return_exceptions=True)

    async def publish(self, accounts: Collection[str]) -> bool:
        """Tell every worker to forget `accounts`; True once all that received it confirmed."""
        if not accounts:
            return True
        nonce = uuid.uuid4().hex
        waiting = self._waiting[nonce] = _Confirmations()
        try:
            async with asyncio.timeout(CONFIRM_TIMEOUT):
                message = "\n".join((self._origin, nonce, *accounts))
                waiting.expected = int(await self._redis.publish(self._channel, message))
                waiting.check()
                await waiting.done.wait()
        except FAILURES as exc:
            why = (
                f"{waiting.received} of {waiting.expected} confirmed in time"
                if isinstance(exc, TimeoutError) and waiting.expected is not None
                else describe(exc)
            )
            logger.warning(NOT_CONFIRMED, len(accounts), why, self._ttl)
            return False
        finally:
            del self._waiting[nonce]
        return True

    def _received(self, channel: str, text: str) -> None:
        if channel == self._confirm_channel:
            waiting = self._waiting.get(text)
            if waiting is not None:
                waiting.received += 1
                waiting.check()
            return
        origin, _, rest = text.partition("\n")
        nonce, _, ids = rest.partition("\n")
        if ids:
            # Its own change too: the publisher forgot before publishing, and forgetting
            # again is harmless; confirming it keeps the count Redis gives exact.
            self._on_change(ids.split("\n"))
        task = asyncio.create_task(self._confirm(origin, nonce))
        self._confirming.add(task)
        task.add_done_callback(self._confirming.discard)

    async def _confirm(self, origin: str, nonce: str) -> None:
        try:
            await self._redis.publish(f"{self._channel}.confirm.{origin}", nonce)
        except FAILURES:
            pass  # the publisher times out waiting, and says so

    def _down(self, exc: BaseException) -> None:
        self._on_down()
        logger.warning(REDIS_UNREACHABLE, describe(exc))

    def _up(self) -> None:
        self._on_up()
        logger.info(REDIS_BACK)
