"""The facts of a running worker: the stores a decision reads, opened and closed together.

Bands (`bands/`: SQL behind an in-process cache kept fresh over Redis pub/sub),
relationships (`relations/`: the host app's own lookups, cached), account ages
(`accounts.py`: the host's creation dates, cached), restrictions (in process) and the
actor's signal counts (the signal store), the last two swapped in when the grooming-signal
pipeline attaches its own, with the policy's time budget. The
runtime holds one; the request path reads it as `Facts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from ..bands.directory import BandDirectory
from ..bands.store import band_store_for
from ..clock import Clock
from ..policy.model import PolicyFile
from ..relations import RelationshipDirectory
from .accounts import AccountAges
from .facts import CountFacts, RestrictionFacts

if TYPE_CHECKING:
    import redis.asyncio


class NoRestrictions:
    """Restrictions when no grooming-signal pipeline runs: nobody is restricted."""

    def is_restricted(self, account_id: str) -> bool:
        return False


class NoCounts:
    """Counts when no grooming-signal pipeline runs: nothing is counted, every count is 0."""

    async def count(self, account_id: str, signal: str) -> int:
        return 0


@dataclass
class StoreFacts:
    bands: BandDirectory
    relationships: RelationshipDirectory
    time_budget: float
    restrictions: RestrictionFacts
    accounts: AccountAges
    counts: CountFacts = field(default_factory=NoCounts)

    @classmethod
    def of(
        cls,
        policy: PolicyFile,
        engine: AsyncEngine,
        *,
        clock: Clock,
        redis: redis.asyncio.Redis | None,
        channel_prefix: str,
    ) -> StoreFacts:
        """The stores `policy` names, not yet started."""
        return cls(
            bands=BandDirectory(
                band_store_for(engine, policy.bands.store, clock=clock),
                cache=policy.bands.cache, clock=clock, redis=redis, channel_prefix=channel_prefix,
            ),
            relationships=RelationshipDirectory(
                policy.relationships, engine, clock=clock, redis=redis, channel_prefix=channel_prefix
            ),
            time_budget=policy.defaults.time_budget_ms / 1000,
            restrictions=NoRestrictions(),
            accounts=AccountAges(policy.accounts, engine, clock=clock),
        )

    async def start(self) -> None:
        """Subscribe to other workers' changes. Never raises: without Redis, caches expire."""
        await self.bands.start()
        await self.relationships.start()

    async def close(self) -> None:
        await self.accounts.close()
        await self.relationships.close()
        await self.bands.close()
