"""What the middleware needs while it runs, opened at start-up and closed at shutdown.

One `Runtime` per middleware instance (per worker process): the SQL engine, the facts a
decision reads (`decide.StoreFacts`: bands, relationships, restrictions), the decision log
and the grooming-signal pipeline. All shared state lives in SQL and Redis, so any number of
workers can run.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from .._singleflight import Flights
from ..alerts.pipeline import GroomingAlerts
from ..bands.directory import BandDirectory
from ..clock import Clock
from ..config import DEFAULT_REDIS_PREFIX, channel_prefix, without_password
from ..db import migrate
from ..db.pool import PoolTimings, timings
from ..decide.facts import RestrictionFacts
from ..decide.stores import StoreFacts
from ..decisions.log import DecisionLog
from ..errors import storage_errors
from ..identity.wiring import ActorTally
from ..relations import RelationshipDirectory
from ..relations.adult_connections import AdultConnections
from ..relations.mutual_wanted import MutualWanted
from ..relations.ties import CommunityTies
from ..relations.vouched import Vouched
from .pending_facts import PendingFacts

if TYPE_CHECKING:  # the runtime sits below the request path: it only names its policy type
    from ..moderation.reports import ReportLog
    from ..pipeline.compiled import CompiledPolicy

logger = logging.getLogger("safe_accounts")


class EventSink(Protocol):
    """Where grooming-signal events go (the signals pipeline)."""

    def submit(self, event: Any) -> None: ...


@dataclass
class Runtime:
    policy: CompiledPolicy
    engine: AsyncEngine
    clock: Clock
    facts: StoreFacts
    decisions: DecisionLog
    signals: EventSink | None = None
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    health_parts: dict[str, Callable[[], dict[str, Any]]] = field(default_factory=dict)
    # Protections that could not apply (a response we could not rewrite), by route.
    misses: dict[str, int] = field(default_factory=dict)
    # The grooming-signal pipeline (signals, alerts, restrictions, deliveries) and the
    # child-endangerment report log, when attached at start-up (`signals_wiring.py`).
    alerts: GroomingAlerts | None = None
    reports: ReportLog | None = None
    # Acknowledged events whose facts the request path could not read, read off it and
    # then submitted to `signals` (`pending_facts.py`); attached with the signals pipeline.
    pending: PendingFacts | None = None
    # The policy's network context for contact requests to minors, when a signal counts by it.
    ties: CommunityTies | None = None
    # The platform's vouched accounts, when a signal filters by them (`where: {vouched: ...}`).
    vouched: Vouched | None = None
    # How much of an account's circle is adult, when a signal filters by it
    # (`where: {subject_adult_connections: ...}`).
    adult_connections: AdultConnections | None = None
    # The events besides contact requests to minors that carry the pair's mutual
    # connections, when a signal filters them by the count (`where: {mutual_connections: ...}`).
    mutual_wanted: MutualWanted | None = None
    # What `drain` writes after the decision log, in order (signals before the deliveries
    # of the alerts they raise).
    drainers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    # Protected requests by whether their actor was named (a wrong wiring names nobody).
    actors: ActorTally = field(default_factory=ActorTally)
    # Every Redis key of ours starts with `redis_prefix`, every pub/sub channel with
    # `channel_prefix` (the prefix and the database number: see config.channel_prefix).
    redis_prefix: str = DEFAULT_REDIS_PREFIX
    channel_prefix: str = f"{DEFAULT_REDIS_PREFIX}db0:"
    # The pool's lookup timings, held from the start: disposing of the engine at shutdown
    # replaces its pool, and a final health report must still say where the time went.
    lookup_timings: PoolTimings | None = None

    def __post_init__(self) -> None:
        if self.lookup_timings is None:
            self.lookup_timings = timings(self.engine)

    @property
    def bands(self) -> BandDirectory:
        return self.facts.bands

    @property
    def relationships(self) -> RelationshipDirectory:
        return self.facts.relationships

    @property
    def restrictions(self) -> RestrictionFacts:
        return self.facts.restrictions

    @restrictions.setter
    def restrictions(self, restrictions: RestrictionFacts) -> None:
        self.facts.restrictions = restrictions

    def health(self) -> dict[str, Any]:
        report: dict[str, Any] = {
            "policy_version": self.policy.version,
            "decision_log": self.decisions.health(),
            "rewrite_misses": dict(self.misses),
            "identity": self.actors.health(),
            "lookups": self.lookup_health(),
        }
        for name, part in self.health_parts.items():
            report[name] = part()
        return report

    def lookup_health(self) -> dict[str, Any]:
        """Where lookups' time goes (waiting for a pool connection, then the query) by kind,
        the pool's state, and how many misses shared another request's fetch."""
        assert self.lookup_timings is not None  # set by __post_init__
        report = self.lookup_timings.health()
        facts = self.facts
        flights: dict[str, Flights[Any, Any]] = {
            "bands": facts.bands.flights,
            "accounts.created_at": facts.accounts.flights,
        }
        flights.update({f"relationships.{k}": f for k, f in facts.relationships.flights.items()})
        report["shared_fetches"] = {
            kind: {"fetches": f.started, "joined": f.joined, "in_flight": len(f)} for kind, f in flights.items()
        }
        return report

    async def drain(self) -> None:
        """Write now what this worker has queued so far: decision-log rows, then what the
        attached layers queue (signal events and the alerts they raise, reports, alert
        deliveries that are due). Returns early only when a store refuses: what could not
        be written stays queued, as `health()` shows."""
        await self.decisions.flush()
        for drain in self.drainers:
            await drain()

    async def close(self) -> None:
        for close in reversed(self.closers):
            try:
                await close()
            except Exception:  # shutdown goes on; say what failed
                logger.exception("safe accounts: error while shutting down")


SignalsFactory = Callable[["Runtime", str | None], Awaitable[None]]


async def open_runtime(
    policy: CompiledPolicy,
    engine: AsyncEngine,
    *,
    clock: Clock,
    redis_url: str | None,
    redis_prefix: str = DEFAULT_REDIS_PREFIX,
    attach_signals: SignalsFactory | None = None,
    check_schema: bool = True,
) -> Runtime:
    """Check the schema, open the stores, start the background writers."""
    if check_schema:
        where = without_password(engine.url.render_as_string(hide_password=True))
        with storage_errors(f"reaching the database at {where}"):
            await migrate.check_schema(engine)
    redis_client = None
    if redis_url is not None:
        import redis.asyncio as aioredis

        redis_client = aioredis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    channels = channel_prefix(redis_prefix, redis_url)
    runtime = Runtime(
        policy=policy,
        engine=engine,
        clock=clock,
        facts=StoreFacts.of(policy.policy, engine, clock=clock, redis=redis_client, channel_prefix=channels),
        decisions=DecisionLog(engine),
        redis_prefix=redis_prefix,
        channel_prefix=channels,
    )
    await runtime.facts.start()
    runtime.closers.append(runtime.facts.close)
    if redis_client is not None:
        runtime.closers.insert(0, redis_client.aclose)
    await runtime.decisions.start()
    runtime.closers.append(runtime.decisions.close)
    if attach_signals is not None:
        await attach_signals(runtime, redis_url)
    return runtime
