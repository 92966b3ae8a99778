"""Age-band lookups: the cached hot path, a search page of 50 accounts on PostgreSQL with
1,000,000 band rows (cold and warm cache), and the memory of 100,000 cached bands.

The PostgreSQL database `safe_accounts_bench` (or $SAFE_ACCOUNTS_BENCH_PG_URL) is
created and loaded once with generate_series, then reused by later runs.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

from safe_accounts.bands import BandDirectory, OwnBandStore
from safe_accounts.bands.age import AgeBand, Assurance, BandRecord
from safe_accounts.bands.cache import BandCache
from safe_accounts.clock import SYSTEM_CLOCK
from safe_accounts.db import migrate
from safe_accounts.db.engine import make_engine
from safe_accounts.policy.model import BandCacheSettings

from ._report import Row, median

SECTION = "bands"
ROWS = 1_000_000
PAGE = 50
MEMORY_ENTRIES = 100_000
MEMORY_TARGET_MB = 50.0
PG_HOST = os.environ.get("SAFE_ACCOUNTS_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("SAFE_ACCOUNTS_TEST_PG_PORT", "5432"))
PG_DATABASE = "safe_accounts_bench"
PG_URL = os.environ.get(
    "SAFE_ACCOUNTS_BENCH_PG_URL", f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{PG_DATABASE}"
)

# Every tenth account is under 13, 13-15 or 16-17 (with a birth date); the rest adults.
_LOAD = f"""
INSERT INTO safe_accounts_age_bands (account_id, band, assurance, source, birth_date, changed_at)
SELECT 'acct-' || i,
       CASE i % 10 WHEN 0 THEN 'under_13' WHEN 1 THEN '13_15' WHEN 2 THEN '16_17' ELSE 'adult' END,
       CASE i % 3 WHEN 0 THEN 'verified' WHEN 1 THEN 'estimated' ELSE 'self_declared' END,
       'bench',
       CASE i % 10 WHEN 0 THEN current_date - (365 * 8 + i % 700)
                   WHEN 1 THEN current_date - (365 * 14 + i % 300)
                   WHEN 2 THEN current_date - (365 * 16 + 200 + i % 300) END,
       extract(epoch from now())
FROM generate_series(1, {ROWS}) AS i
"""


async def _ensure_database() -> None:
    import asyncpg

    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database="postgres")
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", PG_DATABASE):
            await admin.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    finally:
        await admin.close()


async def _ensure_rows(engine) -> None:  # type: ignore[no-untyped-def]
    await migrate.upgrade(engine)
    async with engine.begin() as conn:
        count = (
            await conn.exec_driver_sql("SELECT count(*) FROM safe_accounts_age_bands")
        ).scalar()
        if count == ROWS:
            return
        print(f"   loading {ROWS:,} band rows into {PG_DATABASE} (once)", flush=True)
        await conn.exec_driver_sql("TRUNCATE safe_accounts_age_bands")
        await conn.exec_driver_sql(_LOAD)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql("VACUUM ANALYZE safe_accounts_age_bands")


def _cached_lookup_us(rounds: int = 7, calls: int = 200_000) -> tuple[float, float]:
    """Per-call cost of `cached()` (sync) and of `await get()` answered from the cache."""

    async def measure() -> tuple[float, float]:
        directory = BandDirectory(_NoStore(), cache=BandCacheSettings())
        ids = [f"acct-{i}" for i in range(1000)]
        for account_id in ids:
            directory._cache.put(  # noqa: SLF001 - filling the cache directly, as a fetch would
                BandRecord(
                    account_id, AgeBand.B13_15, Assurance.VERIFIED, "bench", date(2012, 5, 1), 1.0
                )
            )
        cycle = ids * (calls // len(ids))
        sync_runs, async_runs = [], []
        for _ in range(rounds):
            cached = directory.cached
            start = time.perf_counter()
            for account_id in cycle:
                cached(account_id)
            sync_runs.append((time.perf_counter() - start) / len(cycle) * 1e6)
            get = directory.get
            start = time.perf_counter()
            for account_id in cycle[: calls // 4]:
                await get(account_id)
            async_runs.append((time.perf_counter() - start) / (calls // 4) * 1e6)
        return median(sync_runs), median(async_runs)

    return asyncio.run(measure())


class _NoStore:
    """Stands where the store is when every lookup must be a cache hit."""

    async def fetch(self, ids):  # type: ignore[no-untyped-def]
        raise AssertionError(f"the benchmark expected cache hits only, fetched {list(ids)[:3]}")

    async def put(self, records):  # type: ignore[no-untyped-def]
        raise AssertionError("read-only")


async def _page_lookups(rounds: int = 200) -> dict[str, float]:
    await _ensure_database()
    engine = make_engine(PG_URL)
    try:
        await _ensure_rows(engine)
        store = OwnBandStore(engine)
        rng = random.Random(2)
        cold, warm, raw, single = [], [], [], []
        await store.fetch(["acct-1"])  # a warm pool, as in a running worker
        for _ in range(rounds):
            # A search page: 45 accounts with a record, 5 without.
            page = [f"acct-{rng.randint(1, ROWS)}" for _ in range(PAGE - 5)]
            page += [f"gone-{rng.randint(1, ROWS)}" for _ in range(5)]
            directory = BandDirectory(store, cache=BandCacheSettings())
            start = time.perf_counter()
            found = await directory.get_many(page)
            cold.append(time.perf_counter() - start)
            assert len(found) == PAGE
            start = time.perf_counter()
            await directory.get_many(page)
            warm.append(time.perf_counter() - start)
            start = time.perf_counter()
            await store.fetch(page)
            raw.append(time.perf_counter() - start)
            start = time.perf_counter()
            await BandDirectory(store, cache=BandCacheSettings()).get(page[0])
            single.append(time.perf_counter() - start)
        return {
            "cold": median(cold) * 1e6,
            "warm": median(warm) * 1e6,
            "raw": median(raw) * 1e6,
            "single": median(single) * 1e6,
        }
    finally:
        await engine.dispose()


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def _records(n: int) -> list[BandRecord | None]:
    """Records shaped as `OwnBandStore.fetch` returns them: fresh ids, dates and floats
    each, sources interned; 30% minors with a birth date, 10% without a record (None)."""
    out: list[BandRecord | None] = []
    for i in range(n):
        account_id = str(uuid.UUID(int=i + (7 << 100)))  # 36 characters, as UUID ids are
        if i % 10 == 9:
            out.append(None)
        elif i % 10 < 3:
            out.append(
                BandRecord(
                    account_id,
                    AgeBand.B13_15,
                    Assurance.VERIFIED,
                    sys.intern(b"import".decode()),
                    date(2012, 1 + i % 12, 1 + i % 28),
                    time.time(),
                )
            )
        else:
            out.append(
                BandRecord(
                    account_id,
                    AgeBand.ADULT,
                    Assurance.SELF_DECLARED,
                    sys.intern(b"api".decode()),
                    None,
                    time.time(),
                )
            )
    return out


def _fill(cache: BandCache, n: int) -> None:
    for i, record in enumerate(_records(n)):
        if record is None:
            cache.put_unknown(str(uuid.UUID(int=i + (7 << 100))))
        else:
            cache.put(record)


def measure_memory() -> dict[str, float]:
    """Run in a process of its own: extra RSS and traced allocations of a full cache."""
    import tracemalloc

    settings = BandCacheSettings(size=MEMORY_ENTRIES, ttl_seconds=300)
    gc.collect()
    before = _rss_kb()
    cache = BandCache(settings, SYSTEM_CLOCK)
    _fill(cache, MEMORY_ENTRIES)
    gc.collect()
    rss_mb = (_rss_kb() - before) / 1024
    assert len(cache) == MEMORY_ENTRIES
    cache.clear()
    del cache
    gc.collect()
    tracemalloc.start()
    cache = BandCache(settings, SYSTEM_CLOCK)
    _fill(cache, MEMORY_ENTRIES)
    gc.collect()
    traced_mb = tracemalloc.get_traced_memory()[0] / 1024 / 1024
    tracemalloc.stop()
    return {"rss_mb": rss_mb, "traced_mb": traced_mb, "entries": len(cache)}


def _memory_in_subprocess() -> dict[str, float]:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, bench.bench_bands as b; print(json.dumps(b.measure_memory()))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(done.stdout)


IMPORT_ROWS = 1_000_000


def _write_csv(path: Path, rows: int) -> None:
    with path.open("w") as out:
        out.write("account_id,birth_date,band,assurance\n")
        for i in range(rows):
            if i % 3 == 0:
                out.write(f"imp-{i},2012-{1 + i % 12:02d}-{1 + i % 28:02d},,verified\n")
            else:
                out.write(f"imp-{i},,adult,\n")


def _timed_child(*args: str) -> tuple[float, float]:
    """Run a command; its wall time (s) and its own peak RSS (MB)."""
    start = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{args} failed: {child.stderr.read().decode() if child.stderr else ''}")
    if child.stderr:
        child.stderr.close()
    child.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss / 1024


async def _fresh_pg_database(name: str) -> str:
    import asyncpg

    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database="postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"


def _import_runs() -> dict[str, tuple[float, float]]:
    """`safe-accounts bands import` of a million-row CSV, on PostgreSQL and on SQLite."""
    cli = [sys.executable, "-m", "safe_accounts.cli"]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "bands.csv"
        _write_csv(csv_path, IMPORT_ROWS)
        urls = {
            "PostgreSQL": asyncio.run(_fresh_pg_database("safe_accounts_bench_import")),
            "SQLite": f"sqlite+aiosqlite:///{Path(tmp) / 'import.db'}",
        }
        for name, url in urls.items():
            subprocess.run(
                [*cli, "db", "upgrade", "--database-url", url], check=True, capture_output=True
            )
            results[name] = _timed_child(
                *cli, "bands", "import", str(csv_path), "--database-url", url
            )
            print(f"   import of {IMPORT_ROWS:,} rows into {name}: {results[name]}", flush=True)
    return results


def run() -> list[Row]:
    sync_us, async_us = _cached_lookup_us()
    print(f"   cached lookup: {sync_us:.2f} µs (cached), {async_us:.2f} µs (await get)", flush=True)
    page = asyncio.run(_page_lookups())
    print(f"   page of {PAGE}: {page}", flush=True)
    memory = _memory_in_subprocess()
    print(f"   memory: {memory}", flush=True)
    imports = _import_runs()
    return [
        Row(SECTION, "single lookup, cached: `directory.cached(id)` (no I/O)", f"{sync_us:.2f} µs"),
        Row(SECTION, "single lookup, cached: `await directory.get(id)`", f"{async_us:.2f} µs"),
        Row(
            SECTION,
            "single lookup, not cached: `await directory.get(id)`, PostgreSQL, 1M rows",
            f"{page['single']:.0f} µs",
        ),
        Row(
            SECTION,
            f"page of {PAGE} ids, cold cache: `get_many`, PostgreSQL, 1M rows (one query)",
            f"{page['cold']:.0f} µs",
        ),
        Row(
            SECTION,
            f"page of {PAGE} ids, warm cache: `get_many` (no query)",
            f"{page['warm']:.1f} µs",
        ),
        Row(
            SECTION,
            f"page of {PAGE} ids: `OwnBandStore.fetch` alone (the query)",
            f"{page['raw']:.0f} µs",
        ),
        Row(
            SECTION,
            f"memory of {MEMORY_ENTRIES:,} cached bands: extra RSS",
            f"{memory['rss_mb']:.1f} MB",
            f"<= {MEMORY_TARGET_MB:.0f} MB",
            memory["rss_mb"] <= MEMORY_TARGET_MB,
        ),
        Row(
            SECTION,
            f"memory of {MEMORY_ENTRIES:,} cached bands: tracemalloc",
            f"{memory['traced_mb']:.1f} MB",
            f"<= {MEMORY_TARGET_MB:.0f} MB",
            memory["traced_mb"] <= MEMORY_TARGET_MB,
        ),
        *(
            Row(
                SECTION,
                f"`bands import` of {IMPORT_ROWS:,} CSV rows into {name} (5,000 per batch)",
                f"{elapsed:.1f} s ({IMPORT_ROWS / elapsed:,.0f} rows/s), peak RSS {peak:.0f} MB",
            )
            for name, (elapsed, peak) in imports.items()
        ),
    ]
