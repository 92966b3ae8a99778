"""A cold worker under a burst: band misses for many accounts at once, within the budget.

A worker that has just started knows no band. Its first requests each miss, for accounts of
their own, all within a few moments, and each must be answered within the policy's time
budget (the baseline's 250 ms) or be refused 503. This measures, on PostgreSQL with the pool
filled and sized as the soak's (20 + 10), how many of a burst of misses arriving over 150 ms
are answered within that budget, and how many queries they cost: misses gathered while a few
fetches run (as shipped: `bands.directory.FETCHES_AT_ONCE`) against a fetch per miss (as
before), alternating, the median of the rounds.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from safe_accounts.bands import BandDirectory, OwnBandStore
from safe_accounts.bands.directory import FETCHES_AT_ONCE
from safe_accounts.db import migrate
from safe_accounts.db.engine import make_engine
from safe_accounts.db.pool import fill, until
from safe_accounts.errors import StorageError
from safe_accounts.policy.model import BandCacheSettings

from ._report import Row, median
from .bench_bands import _fresh_pg_database

SECTION = "cold worker"


@dataclass(frozen=True, slots=True)
class Config:
    misses: int = 300
    arriving_over_s: float = 0.15
    budget_s: float = 0.25
    rounds: int = 5
    pool_size: int = 20
    overflow: int = 10
    database: str = "safe_accounts_bench_cold"


FULL = Config()


@dataclass(frozen=True, slots=True)
class Burst:
    answered: int  # within the budget
    queries: int


async def burst(url: str, config: Config, fetches_at_once: int | None) -> Burst:
    engine = make_engine(url, pool_size=config.pool_size, max_overflow=config.overflow)
    try:
        await fill(engine)
        directory = BandDirectory(
            OwnBandStore(engine),
            cache=BandCacheSettings(size=config.misses * 2, ttl_seconds=300),
            fetches_at_once=fetches_at_once,
        )
        loop = asyncio.get_running_loop()
        run = uuid.uuid4().hex[:8]
        step = config.arriving_over_s / config.misses

        async def one(n: int) -> bool:
            await asyncio.sleep(n * step)
            try:
                with until(loop.time() + config.budget_s):
                    async with asyncio.timeout(config.budget_s):
                        await directory.get(f"{run}-{n}")
            except (TimeoutError, StorageError):
                return False
            return True

        answered = await asyncio.gather(*(one(n) for n in range(config.misses)))
        await directory.close()
        return Burst(sum(answered), directory.flights.started)
    finally:
        await engine.dispose()


async def measure(config: Config = FULL) -> list[Row]:
    url = await _fresh_pg_database(config.database)
    await migrate.upgrade_url(url)
    shipped: list[Burst] = []
    each: list[Burst] = []
    for _ in range(config.rounds):
        each.append(await burst(url, config, None))
        shipped.append(await burst(url, config, FETCHES_AT_ONCE))
    what = (
        f"PostgreSQL, {config.misses} band misses for as many accounts arriving over "
        f"{config.arriving_over_s * 1000:.0f} ms, pool {config.pool_size} + {config.overflow} filled, "
        f"{config.budget_s * 1000:.0f} ms budget"
    )

    def figure(bursts: list[Burst]) -> str:
        return (
            f"{median(b.answered for b in bursts):.0f} of {config.misses} answered within the budget "
            f"(rounds: {', '.join(str(b.answered) for b in bursts)}); "
            f"{median(b.queries for b in bursts):.0f} queries"
        )

    return [
        Row(SECTION, f"{what}: a fetch per miss (before)", figure(each)),
        Row(SECTION, f"{what}: misses gathered, {FETCHES_AT_ONCE} fetches at once (shipped)", figure(shipped)),
    ]


def run() -> list[Row]:
    return asyncio.run(measure())
