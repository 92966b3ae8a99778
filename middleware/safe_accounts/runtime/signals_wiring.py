"""Wiring the grooming-signal pipeline into a running middleware.

Kept apart from `middleware.py` so that the middleware module stays about ASGI; this is
the one place that knows how the signals, alerts, restrictions and delivery fit into a
`Runtime`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ..alerts.model import Alert
from ..alerts.pipeline import GroomingAlerts
from ..alerts.webhook import Webhook
from ..errors import ConfigurationError
from ..moderation.due import DueTimes
from ..moderation.filer import CaseFiler
from ..moderation.reports import ReportLog
from ..relations.adult_connections import AdultConnections
from ..relations.mutual_wanted import MutualWanted
from ..relations.ties import CommunityTies
from ..relations.vouched import Vouched
from .pending_facts import PendingFacts, pending_attempt_timeout
from .worker import Runtime, SignalsFactory


def _as_async(callback: Callable[[Alert], Any]) -> Callable[[Alert], Any]:
    if inspect.iscoroutinefunction(callback):
        return callback

    async def call(alert: Alert) -> Any:
        result = callback(alert)
        if inspect.isawaitable(result):
            return await result
        return result

    # The outbox names a destination after its callback: keep the user's name.
    call.__module__ = getattr(callback, "__module__", __name__)
    call.__qualname__ = getattr(callback, "__qualname__", "callback")
    return call


def attach_grooming_alerts(
    *,
    on_alert: Callable[[Alert], Any] | None = None,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    pseudonym_key: bytes | None = None,
    **options: Any,
) -> SignalsFactory:
    """A factory the runtime calls at start-up: signals counted, alerts raised and delivered,
    restrictions enforced. `options` go to `GroomingAlerts.create` (batching, intervals);
    the Redis prefix is the runtime's (the middleware's `redis_prefix=`)."""
    if "prefix" in options or "channel_prefix" in options:
        raise ConfigurationError("the Redis key prefix is the middleware's `redis_prefix=`")
    if (webhook_url is None) != (webhook_secret is None):
        raise ConfigurationError("a webhook needs both webhook_url and webhook_secret")
    webhook = Webhook(webhook_url, webhook_secret.encode()) if webhook_url and webhook_secret else None
    callbacks = [_as_async(on_alert)] if on_alert is not None else []

    async def attach(runtime: Runtime, redis_url: str | None) -> None:
        alerts = GroomingAlerts.create(
            runtime.engine,
            redis_url,
            runtime.policy.policy.signals,
            policy_version=runtime.policy.version,
            unknown_is_minor=runtime.policy.unknown_is_minor,
            pseudonym_key=pseudonym_key,
            callbacks=callbacks,
            webhook=webhook,
            clock=runtime.clock,
            prefix=runtime.redis_prefix,
            channel_prefix=runtime.channel_prefix,
            **options,
        )
        await alerts.start()
        runtime.signals = alerts
        runtime.restrictions = alerts.restrictions
        if alerts.counts is not None:
            runtime.facts.counts = alerts.counts
        runtime.closers.append(alerts.close)
        runtime.health_parts["alerts"] = alerts.health
        runtime.alerts = alerts
        runtime.ties = CommunityTies.wanted(runtime.policy.policy, runtime.engine)
        runtime.vouched = Vouched.wanted(runtime.policy.policy, runtime.engine)
        runtime.adult_connections = AdultConnections.wanted(
            runtime.policy.policy, runtime.engine, unknown_is_minor=runtime.policy.unknown_is_minor
        )
        runtime.mutual_wanted = MutualWanted.of(runtime.policy.policy, unknown_is_minor=runtime.policy.unknown_is_minor)
        # Acknowledged events still missing facts: read and submitted before the signals
        # are drained, and closed before them (closers run in reverse), so that what they
        # submit at shutdown is still written.
        pending = PendingFacts(
            alerts, clock=runtime.clock, attempt_timeout=pending_attempt_timeout(runtime.facts.time_budget)
        )
        await pending.start()
        runtime.pending = pending
        runtime.closers.append(pending.close)
        runtime.health_parts["pending_facts"] = pending.health
        runtime.drainers.append(pending.drain)
        runtime.drainers.append(alerts.drain)
        # Child-endangerment reports: the enforcement calls `record(...)` on a 2xx `report`
        # action (a list append); written in batches, off the response path.
        reports = ReportLog(runtime.engine)
        await reports.start()
        runtime.closers.append(reports.close)
        runtime.health_parts["reports"] = reports.health
        runtime.reports = reports
        runtime.drainers.append(reports.flush)
        # Alerts and reports into cases, with their due times, as soon as they exist.
        filer = CaseFiler(runtime.engine, DueTimes.of(runtime.policy.policy), clock=runtime.clock)
        await filer.start()
        runtime.closers.append(filer.close)
        runtime.health_parts["cases"] = filer.health
        runtime.drainers.append(filer.drain)

    return attach
