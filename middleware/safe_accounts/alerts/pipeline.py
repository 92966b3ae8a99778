"""Grooming alerts, wired: what the middleware creates once and feeds events to.

    alerts = GroomingAlerts.create(engine, redis_url, policy.signals, policy_version=...,
                                   callbacks=[notify], webhook=Webhook(url, secret))
    await alerts.start()
    alerts.submit(Event(...))                     # request path: no I/O
    alerts.restrictions.is_restricted(account)    # request path: a set lookup
    await alerts.drain()                          # tests, simulations: written and delivered now
    await alerts.close()
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ..clock import SYSTEM_CLOCK, Clock
from ..policy.model import Signals
from ..signals.backends import signal_store_for
from ..signals.counts import SignalCounts
from ..signals.events import Event
from ..signals.recorder import SignalRecorder
from ..signals.store import DEFAULT_PREFIX
from .model import Alert
from .outbox import AlertOutbox, Destination
from .restrictions import Restrictions
from .service import AlertService
from .webhook import Webhook, WebhookSender

AlertCallback = Callable[[Alert], Awaitable[Any]]


def callback_destination(callback: AlertCallback) -> str:
    """A callback's outbox name: stable across restarts, so a pending delivery finds it again."""
    return f"callback:{callback.__module__}.{getattr(callback, '__qualname__', type(callback).__name__)}"


class GroomingAlerts:
    def __init__(
        self,
        recorder: SignalRecorder,
        service: AlertService,
        restrictions: Restrictions,
        outbox: AlertOutbox,
        closers: Sequence[Callable[[], Awaitable[None]]] = (),
        counts: SignalCounts | None = None,
    ) -> None:
        self.recorder = recorder
        # What rules read of the counts (`actor_count`): the recorder's own store.
        self.counts = counts
        self.service = service
        self.restrictions = restrictions
        self.outbox = outbox
        self._closers = closers

    @classmethod
    def create(
        cls,
        engine: AsyncEngine,
        redis_url: str | None,
        signals: Signals,
        *,
        policy_version: str = "",
        unknown_is_minor: bool = True,
        prefix: str = DEFAULT_PREFIX,
        channel_prefix: str | None = None,
        pseudonym_key: bytes | None = None,
        callbacks: Sequence[AlertCallback] = (),
        webhook: Webhook | None = None,
        clock: Clock = SYSTEM_CLOCK,
        batch_size: int = 256,
        flush_interval: float = 0.05,
        spool_limit: int = 100_000,
        outbox_poll_interval: float = 1.0,
        outbox_backoff: float = 1.0,
        restrictions_refresh_interval: float = 10.0,
        recovery_interval: float = 30.0,
        recovery_grace: float = 10.0,
    ) -> GroomingAlerts:
        destinations: dict[str, Destination] = {callback_destination(c): c for c in callbacks}
        closers: list[Callable[[], Awaitable[None]]] = []
        if webhook is not None:
            sender = WebhookSender(webhook, clock=clock)
            destinations["webhook"] = sender
            closers.append(sender.aclose)
        outbox = AlertOutbox(
            engine, destinations, clock=clock, poll_interval=outbox_poll_interval, backoff=outbox_backoff
        )
        # The restrictions' channel: `channel_prefix` (the middleware's carries the Redis
        # database number), else the key prefix.
        restrictions = Restrictions(
            engine, redis_url=redis_url, prefix=channel_prefix or prefix, clock=clock,
            refresh_interval=restrictions_refresh_interval,
        )
        service = AlertService(
            engine, policy_version=policy_version, clock=clock, restrictions=restrictions, outbox=outbox
        )
        store = signal_store_for(redis_url, prefix=prefix, pseudonym_key=pseudonym_key)
        recorder = SignalRecorder(
            store, signals, on_crossing=service, clock=clock, batch_size=batch_size,
            flush_interval=flush_interval, spool_limit=spool_limit, unknown_is_minor=unknown_is_minor,
            recovery_interval=recovery_interval, recovery_grace=recovery_grace,
        )
        counts = SignalCounts(store, recorder.plan, clock=clock)
        return cls(recorder, service, restrictions, outbox, closers, counts)

    def submit(self, event: Event) -> None:
        self.recorder.submit(event)

    async def start(self) -> None:
        await self.restrictions.start()
        await self.outbox.start()
        await self.recorder.start()

    async def drain(self) -> None:
        """Write the events submitted so far, raise the alerts they cross, and deliver what
        is due now (a delivery backing off after a failure waits for its time)."""
        await self.recorder.flush()
        await self.outbox.deliver_due()

    async def close(self) -> None:
        await self.recorder.close()  # flushes: its last crossings still become alerts
        await self.outbox.close()
        await self.restrictions.close()
        for close in self._closers:
            await close()

    def health(self) -> dict[str, Any]:
        return {
            "signals": self.recorder.health(),
            "restricted_accounts": len(self.restrictions.active),
        }
