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
from tests.middleware.conftest import PRODUCTION_POLICY

from .population import GROOMER_SIGNALS, Population, Request
from .wire import Connection, WireError

# The policy as a platform runs it: the baseline's 250 ms budget and relationships cached
# for the default 30 s, kept true by the invalidation every worker hears (the suite's
# policy caches nothing, so its tests see each change at once); each worker's pool sized
# for the lookups it runs at once under this load, so connections stay open rather than
# being opened and closed again with each burst (overflow connections are closed when
# returned), within PostgreSQL's max_connections for both workers.
POLICY = PRODUCTION_POLICY.replace("  cache_seconds: 0\n", "", 1).replace(
    "  time_budget_ms: 250\n", "  time_budget_ms: 250\n  pool:\n    size: 20\n    overflow: 10\n", 1
)
assert POLICY.count("cache_seconds: 0") < PRODUCTION_POLICY.count("cache_seconds: 0") and "size: 20" in POLICY

# The server's log line for a failed lookup (safe_accounts.pipeline.enforcement.LOOKUP_FAILED).
LOOKUP_FAILED = re.compile(r"safety check for route (\S+) failed")
# Routes whose rules do not fail closed: on a failed lookup the request goes to the app.
FAIL_OPEN_ROUTES = ("block", "report", "friend-answer")

# The gate's thresholds (docs/reliability.md, "The soak gate").
MAX_503_SHARE = 0.0005  # of protected requests (every request but the route the policy does not know)
MAX_RSS_GROWTH = 0.10  # a worker's median RSS over the last third of the run, over the middle third's
RSS_SAMPLES_NEEDED = 9  # fewer (a very short run) and memory is not judged, which fails the gate
RSS_INTERVAL = 0.5  # seconds between samples

# The signal event each acknowledged answer stands for (decide/actions.py, the action table):
# a 2xx of these counts one event about the pair...
EVENT_ON_SUCCESS = {"contact_request": "contact_request", "block": "blocked", "report": "reported"}
# ...a contact request answered counts as the answer's word...
EVENT_ON_ANSWER = {"accept": "contact_accepted", "reject": "contact_rejected"}
# ...and so does a refusal (403 with our decision id) of these, one per refused target (the
# soak's refused requests have one target each).
EVENT_ON_REFUSAL = {"contact_request": "contact_request", "direct_message": "direct_message_denied"}


def event_of(request: Request, status: int, refused: bool) -> str | None:
    """The signal event the answer to `request` leaves behind, as the action table says."""
    if refused:
        return EVENT_ON_REFUSAL.get(request.kind)
    if not 200 <= status < 300:
        return None
    if request.kind == "contact_response":
        return EVENT_ON_ANSWER.get(request.path.rsplit("/", 1)[-1])
    return EVENT_ON_SUCCESS.get(request.kind)


def to_self(request: Request) -> bool:
    """Whether the request's only target is its actor: an account acting on itself is no
    pair, so it counts no event (pipeline/targets.py drops the actor from the targets)."""
    body = request.json if isinstance(request.json, dict) else {}
    return request.actor in (body.get("to"), body.get("account"))


@dataclass(frozen=True)
class Options:
    seconds: float = 60.0
    clients: int = 300
    workers: int = 2
    parents: int = 300
    groomers: int = 20
    think: float = 0.3  # mean pause between one client's requests (exponential), seconds
    rate: float = 1.0  # load multiplier: each client's pause is think / rate
    # Seconds over which the clients arrive (each at a uniformly drawn moment). Users reach
    # freshly started workers over seconds, not all in one moment: every client at once
    # (a ramp under `think`) is a cold start under the full load, where each worker reads
    # every band and relationship afresh and refuses some of the first seconds' requests
    # (docs/reliability.md, "Past saturation").
    ramp: float = 5.0
    seed: int = 8

    @property
    def pause(self) -> float:
        return self.think / self.rate


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
    protected: int = 0  # requests on routes the policy knows, 503s and their retries included
    acknowledged: Counter[str] = field(default_factory=Counter)  # signal events answered, by event kind
    to_self: Counter[str] = field(default_factory=Counter)  # answers to requests about oneself, by event kind
    unavailable_at: Counter[int] = field(default_factory=Counter)  # 503s by the run's 5-second period


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
            await asyncio.wait_for(stop.wait(), RSS_INTERVAL)
        except TimeoutError:
            pass


async def _client(port: int, population: Population, script: Any,
                  rng: random.Random, until: float, think: float, ramp: float, tally: Tally) -> None:
    connection = Connection("127.0.0.1", port)
    try:
        # Arrive spread out over the ramp, as users do, rather than all in the same millisecond.
        await asyncio.sleep(rng.uniform(0, ramp))
        while time.monotonic() < until:
            scripted = bool(script) and rng.random() < 0.5
            request: Request = script.popleft() if scripted else population.everyday(rng)
            started = time.perf_counter()
            try:
                status, body, media = await connection.request(
                    request.method, request.path, request.actor, request.json
                )
            except WireError as exc:
                tally.errors[str(exc).split(":")[0]] += 1
                if scripted:
                    script.append(request)
                await asyncio.sleep(1.0)  # a new connection next time, after a pause
                continue
            tally.latencies.append(time.perf_counter() - started)
            if scripted:
                tally.scripted[(request.kind, status)] += 1
            if status == 503:
                tally.unavailable_at[int((time.monotonic() - until) // 5)] += 1
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
            refused = status == 403 and b"decision_id" in body
            if refused:
                tally.refusal_ids.append(json.loads(body)["decision_id"])
            if request.kind != "unknown_route":
                tally.protected += 1
            event = event_of(request, status, refused)
            if event is not None:
                (tally.to_self if to_self(request) else tally.acknowledged)[event] += 1
    finally:
        await connection.close()


async def soak(options: Options) -> tuple[bool, str]:
    """Run once; (passed, a markdown report)."""
    rng = random.Random(options.seed)
    database = f"sa_soak_{uuid.uuid4().hex[:10]}"
    prefix = f"soak:{uuid.uuid4().hex[:10]}:"
    url = f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"
    work = Path(tempfile.mkdtemp(prefix="sa-soak-"))
    finals = work / "health"
    finals.mkdir()
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
             "SA_SERVED_PREFIX": prefix, "SA_SERVED_HEALTH_DIR": str(finals)},
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
                    options.pause, options.ramp, tally)
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
        final = [json.loads(f.read_text()) for f in sorted(finals.glob("*.json"))]
        return await _check(options, population, tally, url, scripted - len(script), scripted, elapsed,
                            baseline, after, health, failures, final)
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
                 failures: Counter[str], final: list[dict[str, Any]]) -> tuple[bool, str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            alert_rows = (await conn.execute(select(alerts.c.subject, alerts.c.signal, alerts.c.counts))).all()
            logged = set((await conn.execute(select(decision_log.c.id))).scalars())
            rows = int((await conn.execute(select(func.count()).select_from(decision_log))).scalar_one())
    finally:
        await engine.dispose()
    checks: list[tuple[bool, str]] = []  # (passed, what was checked and found)

    # Alerts: one per account while not resolved; the signals crossed after it are keys of its counts.
    per_account = Counter(r.subject for r in alert_rows)
    crossed = {(r.subject, s) for r in alert_rows for s in (r.signal, *r.counts)}
    expected = {(g, s) for g in population.groomers for s in GROOMER_SIGNALS}
    missing = sorted(expected - crossed)
    if done < scripted:
        checks.append((False, f"missing alerts: cannot tell, only {done} of {scripted} scripted groomer requests "
                              "were sent (run longer)"))
    else:
        fail_open = sum(failures[r] for r in FAIL_OPEN_ROUTES)
        why = f"; {fail_open} lookups failed on fail-open routes" if missing and fail_open else ""
        example = f", e.g. {missing[:3]}" if missing else ""
        checks.append((not missing, f"missing alerts: {len(missing)} of the {len(expected)} (groomer, signal) "
                                    f"crossings the script must raise{why}{example}"))
    twice = {k: n for k, n in per_account.items() if n > 1}
    checks.append((not twice, f"alerts raised twice: {len(twice)} accounts with more than one alert"
                              + (f" {twice}" if twice else "")))
    strangers = sorted(set(per_account) - set(population.groomers))
    checks.append((not strangers, f"alerts against ordinary accounts: {len(strangers)}"
                                  + (f", e.g. {strangers[:5]}" if strangers else "")))

    # Events: what the clients were answered against what the workers' writers put in the signal store.
    answered = sum(tally.acknowledged.values())
    workers = len(final)
    took = sum(int(_signals(h).get("recorded", 0)) for h in final)
    submitted: Counter[str] = Counter()
    for h in final:
        submitted.update(_signals(h).get("submitted") or {})
    waiting = sum(int(_signals(h).get("queued", 0)) + _pending(h) for h in final)
    dropped = sum(int(_signals(h).get(k, 0)) for h in final for k in ("overflowed", "rejected")) + sum(
        int((h.get("pending_facts") or {}).get("lost", 0) or 0) for h in final
    )
    events_ok = (workers == options.workers and took == answered and +submitted == +tally.acknowledged
                 and not waiting and not dropped)
    checks.append((events_ok, f"lost events: the clients were answered {answered} signal events, the signal store "
                              f"took {took} (lost {answered - took}; still queued or pending {waiting}; dropped "
                              f"{dropped}; final health from {workers} of {options.workers} workers; "
                              f"by kind, answered / submitted: {_by_kind(tally.acknowledged, submitted)}; "
                              f"answers about oneself, which count nothing: {dict(tally.to_self) or 0})"))

    lost = sorted(set(tally.refusal_ids) - logged)
    checks.append((not lost, f"lost decision rows: {len(lost)} of the {len(set(tally.refusal_ids))} refusals answered "
                             "are not in the decision log after a graceful stop"))

    unavailable = tally.statuses.get(503, 0)
    share = unavailable / tally.protected if tally.protected else 0.0
    checks.append((share < MAX_503_SHARE, f"503s: {unavailable} of {tally.protected} protected requests = "
                                          f"{share:.3%} (under {MAX_503_SHARE:.2%})"))

    growth = []
    flat = True
    for _, samples in sorted(tally.rss.items()):
        if len(samples) < RSS_SAMPLES_NEEDED:
            flat = False
            continue
        third = len(samples) // 3
        middle, last = statistics.median(samples[third:2 * third]), statistics.median(samples[2 * third:])
        growth.append((samples[0], middle, last, max(samples), last / middle - 1))
        flat = flat and last <= middle * (1 + MAX_RSS_GROWTH)
    flat = flat and len(growth) == options.workers
    checks.append((flat, f"flat memory: each worker's median RSS over the last third of the run at most "
                         f"{MAX_RSS_GROWTH:.0%} over the middle third's: "
                         + (", ".join(f"{g:+.1%}" for *_, g in growth) or "no worker sampled")
                         + f" ({sum(map(len, tally.rss.values()))} samples of {len(tally.rss)} workers, "
                           f"{RSS_SAMPLES_NEEDED} each needed)"))

    others = len(tally.unexpected)
    checks.append((not others, f"other 5xx: {others}" + (f", e.g. {tally.unexpected[:3]}" if others else "")))
    checks.append((not tally.errors, f"transport errors: {dict(tally.errors) or 0}"))
    checks.append((after <= baseline, f"PostgreSQL connections left open after shutdown: {max(0, after - baseline)}"))

    latencies = sorted(tally.latencies)
    total = sum(tally.statuses.values())

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else 0.0

    passed = all(ok for ok, _ in checks)
    failed = [line.split(":")[0] for ok, line in checks if not ok]
    lines = [
        f"- command: `python -m tests.soak --seconds {options.seconds:g} --clients {options.clients} "
        f"--think {options.think:g} --rate {options.rate:g} --ramp {options.ramp:g}` "
        f"({options.workers} uvicorn workers, "
        f"the clients arriving over the first {options.ramp:g} s, each pausing "
        f"{options.pause:g} s on average between requests and 1 s after a 503, {len(population.parents)} parents, "
        f"{len(population.children)} children, {len(population.groomers)} groomers; PostgreSQL + Redis on loopback; "
        "2 cores shared by server and clients)",
        f"- requests: {total} in {elapsed:.1f} s = {total / elapsed:.0f} req/s (offered about "
        f"{options.clients / options.pause if options.pause else float('inf'):.0f}/s); "
        f"latency p50 {_ms(pct(0.5))}, p90 {_ms(pct(0.9))}, p99 {_ms(pct(0.99))}, "
        f"max {_ms(latencies[-1] if latencies else 0)}",
        f"- statuses: {', '.join(f'{k}: {v}' for k, v in sorted(tally.statuses.items()))}",
        "- 503s by 5 s of the run: " + (", ".join(
            f"{options.seconds + 5 * k:g}-{options.seconds + 5 * k + 5:g} s: {n}"
            for k, n in sorted(tally.unavailable_at.items())) or "none"),
        f"- by action: {', '.join(f'{k}: {v}' for k, v in sorted(tally.by_kind.items()))}",
        f"- signal events answered, by kind: {', '.join(f'{k}: {v}' for k, v in sorted(tally.acknowledged.items()))}",
        f"- alerts: {len(alert_rows)} rows for {len(per_account)} accounts; decision log: {rows} rows",
        f"- PostgreSQL connections to the run's database: {baseline} before, peak {tally.connections_peak} during, "
        f"{after} after shutdown",
        "- worker RSS (MB: first sample, median of the middle third, median of the last third, max): "
        + "; ".join(f"{a / 1024:.0f} / {b / 1024:.0f} / {c / 1024:.0f} / {d / 1024:.0f}"
                    for a, b, c, d, _ in growth),
        f"- one worker's health at the end of the load: decision log {health.get('decision_log')}, signals queued "
        f"{_signals(health).get('queued')}",
        "- where lookups' time went, each worker (kind: queries, failed, gave up waiting for a connection; "
        "total ms waiting for a connection / running the query): "
        + " | ".join(_lookups(h) for h in final),
        "- lookups that failed or ran out of their time budget, by route (server log): "
        + (", ".join(f"{k}: {v}" for k, v in sorted(failures.items())) or "none"),
        "- the groomers' script (action, status: count): "
        + ", ".join(f"{k} {st}: {n}" for (k, st), n in sorted(tally.scripted.items())),
        "- checks:",
        *(f"  - {'PASS' if ok else 'FAIL'} {line}" for ok, line in checks),
        f"- result: {'PASSED' if passed else 'FAILED (' + ', '.join(failed) + ')'}",
    ]
    return passed, "\n".join(lines)


def _by_kind(answered: Counter[str], submitted: Counter[str]) -> str:
    return ", ".join(f"{k} {answered[k]} / {submitted[k]}" for k in sorted(set(answered) | set(submitted)))


def _signals(health: dict[str, Any]) -> dict[str, Any]:
    part = health.get("alerts", {}).get("signals", {})
    return part if isinstance(part, dict) else {}


def _pending(health: dict[str, Any]) -> int:
    """Events queued while a fact they need is still being looked up (pending facts), if the
    worker reports any."""
    part = health.get("pending_facts")
    if isinstance(part, dict):
        return int(part.get("pending", 0) or 0)
    return 0


def _lookups(health: dict[str, Any]) -> str:
    kinds = (health.get("lookups") or {}).get("by_kind") or {}
    return "; ".join(
        f"{kind}: {k.get('queries')}, {k.get('failed')}, {k.get('gave_up_waiting')}; "
        f"{(k.get('waiting_for_connection') or {}).get('total_ms')} / {(k.get('running_query') or {}).get('total_ms')}"
        for kind, k in sorted(kinds.items())
    ) or "not reported"
