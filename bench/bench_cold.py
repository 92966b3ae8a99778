"""Cold CPU caches: the middleware's time on a request after the app's own work.

`overhead` times one request after another in a tight loop, so the middleware's code and
data stay in the CPU's caches from one request to the next. Between real requests the app
runs (its driver, its ORM, its serialiser) and evicts them, and the same Python code then
runs several times slower: the realistic app's DM costs the middleware about four times the
tight loop's figure before the app is called (docs/benchmarks.md, "realistic").

Here the trivial app's warm allowed DM is timed three ways: in the tight loop, and after
reading a few thousand, then a few tens of thousands, random entries of a large table of
Python objects between requests (untimed), which is what an app's work does to the caches.
The middleware's time on the request path is the wrapped request's wall time less the app's
own (`bench_realistic.OwnTime`), wrapped less bare; the bare app's own time is given too,
since the app slows the same way.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from safe_accounts import AgeBand, SafeAccountsMiddleware
from safe_accounts.db.migrate import upgrade_url

from ._report import Row, median
from .bench_overhead import POLICY, host_app, one, scope
from .bench_realistic import OwnTime

SECTION = "cold"


@dataclass(frozen=True, slots=True)
class Config:
    evictions: tuple[int, ...] = (0, 2_000, 20_000)  # random reads between two requests
    table: int = 200_000  # entries of the table read
    rounds: int = 9
    per_round: int = 100


FULL = Config()


class Evictor:
    """Reads `n` random entries of a table of small dicts: the app's work, as the caches see it."""

    def __init__(self, size: int) -> None:
        self._table = [{"id": i, "name": str(i)} for i in range(size)]
        self._rng = random.Random(19)

    def read(self, n: int) -> int:
        total = 0
        for entry in self._rng.sample(self._table, n):
            total += entry["id"]
        return total


async def timed(app: Any, own: OwnTime, sc: dict[str, Any], body: bytes, evictor: Evictor,
                evictions: int, requests: int) -> tuple[float, float]:
    """Per request, in µs: the time outside the app's own, and the app's own."""
    outside = inside = 0.0
    for _ in range(requests):
        if evictions:
            evictor.read(evictions)
        before = own.seconds
        start = time.perf_counter()
        if await one(app, sc, body) != 201:
            raise AssertionError("the DM was not answered 201: nothing to time")
        wall = time.perf_counter() - start
        spent = own.seconds - before
        outside += wall - spent
        inside += spent
    return outside / requests * 1e6, inside / requests * 1e6


async def measure(config: Config = FULL) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await upgrade_url(url)
        policy = Path(tmp) / "policy.yaml"
        policy.write_text(POLICY)
        bare, inner = OwnTime(host_app()), OwnTime(host_app())
        wrapped = SafeAccountsMiddleware(inner, policy=policy, database_url=url, signals=None, health_path=None)
        runtime = await wrapped.start()
        try:
            for account in ("adult", "other-adult"):
                await runtime.bands.set(account, band=AgeBand.ADULT)
            body = orjson.dumps({"to": "other-adult", "text": "hello there"})
            sc = scope("POST", "/api/messages", "adult", body)
            evictor = Evictor(config.table)
            for _ in range(50):  # warm every cache of ours on both sides
                await one(wrapped, sc, body)
                await one(bare, sc, body)
            rows: list[Row] = []
            for evictions in config.evictions:
                bare_rounds: list[tuple[float, float]] = []
                wrapped_rounds: list[tuple[float, float]] = []
                for _ in range(config.rounds):
                    bare_rounds.append(await timed(bare, bare, sc, body, evictor, evictions, config.per_round))
                    wrapped_rounds.append(
                        await timed(wrapped, inner, sc, body, evictor, evictions, config.per_round)
                    )
                path = median(o for o, _ in wrapped_rounds) - median(o for o, _ in bare_rounds)
                app_bare = median(i for _, i in bare_rounds)
                app_wrapped = median(i for _, i in wrapped_rounds)
                what = (
                    "allowed DM, adult to adult, tight loop" if not evictions
                    else f"allowed DM, adult to adult, after {evictions:,} random reads of a "
                    f"{config.table:,}-entry table"
                )
                rows.append(Row(
                    SECTION, what,
                    f"middleware on the request path {path:.1f} µs; the app's own time "
                    f"{app_bare:.1f} µs bare, {app_wrapped:.1f} µs wrapped",
                ))
                print(f"  {what}: {rows[-1].figure}", flush=True)
            return rows
        finally:
            await wrapped.close()


def run() -> list[Row]:
    return asyncio.run(measure())
