"""The soak run itself: start, load, measure, stop, check. It always stops what it started."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import statistics
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis.asyncio as aioredis
from sqlalchemy import func, select

from safe_accounts.alerts.tables import alerts
from safe_accounts.db import migrate
from safe_accounts.db.engine import make_engine
from safe_accounts.decisions.table import decision_log
from tests.conftest import PG_HOST, PG_PORT, PG_USER, REDIS_URL
from tests.hardening.server_process import HEALTH, ServerProcess
from tests.middleware.conftest import PRODUCTION_POLICY as POLICY

from .population import GROOMER_SIGNALS, Population, Request
from .wire import Connection, WireError


# The server's log line for a failed lookup (safe_accounts.pipeline.enforcement.LOOKUP_FAILED).
LOOKUP_FAILED = re.compile(r"safety check for route (\S+) failed")
# Routes whose rules do not fail closed: on a failed lookup the request goes to the app.
FAIL_OPEN_ROUTES = ("block", "report", "friend-answer")


@dataclass(frozen=True)
class Options:
    seconds: float = 60.0
    clients: int = 300
    workers: int = 2
    parents: int = 300
    groomers: int = 20
    think: float = 0.3  # mean pause between one client's requests (exponential), seconds
    seed: int = 8


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    refusal_ids: list[str] = field(default_factory=list)
    scripted: Counter[tuple[str, int]] = field(default_factory=Counter)  # (action, status) of the script
    rss: dict[int, list[int]] = field(default_factory=dict)  # worker pid -> kB samples
    connections_peak: int = 0


async def _pg(sql: str, database: str = "postgres") -> Any:
    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=database, timeout=10)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def _connections(database: str) -> int:
    return int(await _pg(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}'"))


def _workers(parent: int) -> list[int]:
    """The server's worker processes: its children (the parent only supervises)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # pid (comm) state ppid ...: comm may hold spaces, so split after its ')'.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent and b"spawn_main" in (stat.parent / "cmdline").read_bytes():
            found.append(int(stat.parent.name))
    return found


def _rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


async def _sample(server: ServerProcess, database: str, tally: Tally, stop: asyncio.Event) -> None:
    while not stop.is_set():
        for pid in _workers(server.pid):
            kb = _rss_kb(pid)
            if kb is not None:
                tally.rss.setdefault(pid, []).append(kb)
        tally.connections_peak = max(tally.connections_peak, await _connections(database))
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass


async def _client(port: int, population: Population, script: Any,
                  rng: random.Random, until: float, think: float, tally: Tally) -> None:
    connection = Connection("127.0.0.1", port)
    try:
        # Start spread out, as users do, rather than all in the same millisecond.
        await asyncio.sleep(rng.uniform(0, think))
        while time.monotonic() < until:
            scripted = bool(script) and rng.random() < 0.5
            request: Request = script.popleft() if scripted else population.everyday(rng)
            started = time.perf_counter()
            try:
                status, body, media = await connection.request(request.method, request.path, request.actor, request.json)
            except WireError as exc:
                tally.errors[str(exc).split(":")[0]] += 1
                if scripted:
                    script.append(request)
                continue
            tally.latencies.append(time.perf_counter() - started)
            if scripted:
                tally.scripted[(request.kind, status)] += 1
            if status == 503:
                if scripted:
                    script.append(request)  # retried later, as a real client retries a 503
                await asyncio.sleep(1.0)  # and backs off first
            elif think > 0:
                await asyncio.sleep(rng.expovariate(1 / think))
            tally.statuses[status] += 1
            tally.by_kind[request.kind] += 1
            if status >= 500 and status != 503:
                tally.unexpected.append(f"{status} {request}")
            elif status == 503 and not (media == "application/problem+json" and b"/unavailable" in body):
                tally.unexpected.append(f"503 not ours {request}")
            if status == 403 and b"decision_id" in body:
                tally.refusal_ids.append(json.loads(body)["decision_id"])
    finally:
        await connection.close()


async def soak(options: Options) -> tuple[bool, str]:
    """Run once; (passed, a markdown report)."""
    rng = random.Random(options.seed)
    database = f"sa_soak_{uuid.uuid4().hex[:10]}"
    prefix = f"soak:{uuid.uuid4().hex[:10]}:"
    url = f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"
    work = Path(tempfile.mkdtemp(prefix="sa-soak-"))
    policy = work / "policy.yaml"
    policy.write_text(POLICY)
    population = Population.make(options.parents, options.groomers)
    await _pg(f'CREATE DATABASE "{database}"')
    server: ServerProcess | None = None
    try:
        await migrate.upgrade_url(url)
        engine = make_engine(url)
        try:
            await population.seed(engine, rng)
        finally:
            await engine.dispose()
        baseline = await _connections(database)
        server = ServerProcess(
            {"SA_SERVED_DATABASE_URL": url, "SA_SERVED_POLICY": str(policy), "SA_SERVED_REDIS_URL": REDIS_URL,
             "SA_SERVED_PREFIX": prefix},
            work / "server.log", workers=options.workers,
        )
        server.start()
        tally = Tally()
        script = population.groomer_script(rng)
        scripted = len(script)
        stop = asyncio.Event()
        sampler = asyncio.create_task(_sample(server, database, tally, stop))
        started = time.monotonic()
        await asyncio.gather(*(
            _client(server.port, population, script, random.Random(rng.random()), started + options.seconds,
                    options.think, tally)
            for _ in range(options.clients)
        ))
        elapsed = time.monotonic() - started
        async with httpx.AsyncClient(timeout=30, trust_env=False) as http:
            health = (await http.get(server.url + HEALTH)).json()
        stop.set()
        await sampler
        server.stop()  # graceful: each worker's lifespan shutdown writes what it queued
        server = None
        after = await _connections(database)
        failures = Counter(m.group(1) for m in LOOKUP_FAILED.finditer((work / "server.log").read_text()))
        return await _check(options, population, tally, url, scripted - len(script), scripted, elapsed,
                            baseline, after, health, failures)
    finally:
        if server is not None:
            server.stop()
        if os.environ.get("SOAK_KEEP"):  # for a look afterwards: the data stays
            print(f"kept: database {database}, Redis prefix {prefix}, server log {work / 'server.log'}")
        else:
            await _drop_keys(prefix)
            await _pg(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            shutil.rmtree(work, ignore_errors=True)


async def _drop_keys(prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        for i in range(0, len(keys), 1000):
            await client.delete(*keys[i:i + 1000])
    finally:
        await client.aclose()


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def _check(options: Options, population: Population, tally: Tally, url: str, done: int, scripted: int,
                 elapsed: float, baseline: int, after: int, health: dict[str, Any],
                 failures: Counter[str]) -> tuple[bool, str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            alert_rows = (await conn.execute(select(alerts.c.subject, alerts.c.signal, alerts.c.counts))).all()
            logged = set((await conn.execute(select(decision_log.c.id))).scalars())
            rows = int((await conn.execute(select(func.count()).select_from(decision_log))).scalar_one())
    finally:
        await engine.dispose()
    # One alert per account; the signals crossed after it are keys of its counts.
    per_key = Counter(r.subject for r in alert_rows)
    crossed = {(r.subject, s) for r in alert_rows for s in (r.signal, *r.counts)}
    expected = {(g, s) for g in population.groomers for s in GROOMER_SIGNALS}
    problems: list[str] = []
    if tally.unexpected:
        problems.append(f"{len(tally.unexpected)} unexpected 5xx, e.g. {tally.unexpected[:3]}")
    if tally.errors:
        problems.append(f"transport errors: {dict(tally.errors)}")
    if done < scripted:
        problems.append(f"only {done} of {scripted} scripted groomer requests were sent: run longer")
    else:
        missing = expected - crossed
        if missing:
            fail_open = sum(failures[r] for r in FAIL_OPEN_ROUTES)
            why = f" ({fail_open} lookups failed on fail-open routes: their events are not recorded)" if fail_open else ""
            problems.append(f"{len(missing)} alerts never raised, e.g. {sorted(missing)[:3]}{why}")
    twice = {k: n for k, n in per_key.items() if n > 1}
    if twice:
        problems.append(f"alerts raised more than once: {twice}")
    strangers = set(per_key) - set(population.groomers)
    if strangers:
        problems.append(f"alerts against ordinary accounts: {sorted(strangers)[:5]}")
    lost = len(set(tally.refusal_ids) - logged)
    if lost:
        problems.append(f"{lost} refusals answered but not in the decision log after a graceful stop")
    if after > baseline:
        problems.append(f"{after - baseline} PostgreSQL connections left open after shutdown")
    growth = []
    for pid, samples in tally.rss.items():
        if len(samples) >= 10:
            third = len(samples) // 3
            early, late = statistics.median(samples[third:2 * third]), statistics.median(samples[2 * third:])
            growth.append((pid, samples[0], early, late, max(samples)))
            if late > early * 1.2:
                problems.append(f"worker {pid} RSS grew from {early / 1024:.0f} MB to {late / 1024:.0f} MB")
    latencies = sorted(tally.latencies)
    total = sum(tally.statuses.values())

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else 0.0

    lines = [
        f"- command: `make soak SOAK_ARGS=\"--seconds {options.seconds:g} --clients {options.clients} "
        f"--think {options.think:g}\"` ({options.workers} uvicorn workers, each client pausing {options.think:g} s "
        f"on average between requests and 1 s after a 503, {len(population.parents)} parents, {len(population.children)} children, "
        f"{len(population.groomers)} groomers; PostgreSQL + Redis on loopback; 2 cores shared by server and clients)",
        f"- requests: {total} in {elapsed:.1f} s = {total / elapsed:.0f} req/s; "
        f"latency p50 {_ms(pct(0.5))}, p90 {_ms(pct(0.9))}, p99 {_ms(pct(0.99))}, max {_ms(latencies[-1] if latencies else 0)}",
        f"- statuses: {', '.join(f'{k}: {v}' for k, v in sorted(tally.statuses.items()))} "
        f"(503s: {tally.statuses.get(503, 0)}, each the designed fail-closed problem; other 5xx: {len(tally.unexpected)})",
        f"- by action: {', '.join(f'{k}: {v}' for k, v in sorted(tally.by_kind.items()))}",
        f"- alerts: {len(alert_rows)} rows for {len(per_key)} (account, signal) pairs, each exactly once; "
        f"expected {len(expected)} from the groomers' script, missing {len(expected - set(per_key))}, "
        f"against ordinary accounts {len(strangers)}",
        f"- decision log: {rows} rows; every one of the {len(set(tally.refusal_ids))} refusals answered is in it "
        f"(lost {lost})" if not lost else f"- decision log: {rows} rows; {lost} answered refusals missing",
        f"- PostgreSQL connections to the run's database: {baseline} before, peak {tally.connections_peak} during, "
        f"{after} after shutdown",
        "- worker RSS (MB: first sample, median of the middle third, median of the last third, max): "
        + "; ".join(f"{a / 1024:.0f} / {b / 1024:.0f} / {c / 1024:.0f} / {d / 1024:.0f}" for _, a, b, c, d in growth),
        f"- one worker's health at the end: {health.get('decision_log')}, signals queued "
        f"{health.get('alerts', {}).get('signals', {}).get('queued')}",
        "- lookups that failed or ran out of their time budget, by route (server log): "
        + (", ".join(f"{k}: {v}" for k, v in sorted(failures.items())) or "none")
        + f"; on the fail-open routes ({', '.join(FAIL_OPEN_ROUTES)}) the app still answered 2xx",
        f"- the groomers' script (action, status: count): "
        + ", ".join(f"{k} {st}: {n}" for (k, st), n in sorted(tally.scripted.items())),
        f"- result: {'PASSED' if not problems else 'FAILED: ' + '; '.join(problems)}",
    ]
    return not problems, "\n".join(lines)
