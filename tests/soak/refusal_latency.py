"""What a refusal costs in process: `python -m tests.soak.refusal_latency [sqlite|postgresql]`.

The trivial app of `bench/bench_overhead.py` behind the middleware; a stranger DM to a minor,
answered 403 from warm caches, 200 at a time one after another and 20 bursts of 16 at once,
7 rounds each; prints the medians per refusal. Run from a checkout of another commit (with
this file copied in) to compare: the figures are in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson

from bench import bench_overhead as bench
from safe_accounts import AgeBand, SafeAccountsMiddleware
from safe_accounts.db.migrate import upgrade_url
from tests.conftest import _pg_admin, pg_url

ROUNDS, IN_A_ROW, BURSTS, AT_ONCE = 7, 200, 20, 16


async def measure(kind: str) -> str:
    work = Path(tempfile.mkdtemp(prefix="sa-refusal-"))
    database = f"sa_refusal_{uuid.uuid4().hex[:8]}"
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{work / 'refusal.db'}"
    else:
        await _pg_admin(f'CREATE DATABASE "{database}"')
        url = pg_url(database)
    try:
        await upgrade_url(url)
        policy = work / "policy.yaml"
        policy.write_text(bench.POLICY)
        wrapped = SafeAccountsMiddleware(
            bench.host_app(), policy=policy, database_url=url, signals=None, health_path=None
        )
        runtime = await wrapped.start()
        async with wrapped.engine.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE friendships (a VARCHAR(64), b VARCHAR(64))")
        await runtime.bands.set("adult", band=AgeBand.ADULT)
        await runtime.bands.set("child", band=AgeBand.B13_15)
        body = orjson.dumps({"to": "child", "text": "hello there"})
        scope = bench.scope("POST", "/api/messages", "adult", body)
        for _ in range(100):
            assert await bench.one(wrapped, scope, body) == 403
        in_a_row, at_once = [], []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            for _ in range(IN_A_ROW):
                await bench.one(wrapped, scope, body)
            in_a_row.append((time.perf_counter() - started) / IN_A_ROW * 1e6)
            started = time.perf_counter()
            for _ in range(BURSTS):
                await asyncio.gather(*(bench.one(wrapped, scope, body) for _ in range(AT_ONCE)))
            at_once.append((time.perf_counter() - started) / (BURSTS * AT_ONCE) * 1e6)
        await wrapped.close()
    finally:
        if kind != "sqlite":
            await _pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    return (
        f"{kind}: one at a time {statistics.median(in_a_row):.0f} µs per refusal; "
        f"{AT_ONCE} at a time {statistics.median(at_once):.0f} µs per refusal (medians of {ROUNDS} rounds)"
    )


if __name__ == "__main__":
    for kind in sys.argv[1:] or ["sqlite", "postgresql"]:
        print(asyncio.run(measure(kind)), flush=True)
