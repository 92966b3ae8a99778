"""What issue 14 costs a contact request on its path: an adult's friend request to a
14-year-old they share no friends with, through the baseline as shipped, with and without
what the issue added to that path.

Four apps, in process, rounds alternating, each request one `await app(scope, receive,
send)` (no sockets), on PostgreSQL and Redis as a platform runs them:

- the bare app: it looks for a pending request of the pair (one SELECT; the first time, an
  INSERT) and answers 201 with it;
- behind the baseline without its cap on requests to strangers and without the network
  context (no `community_ties`, no `vouched` lookup): the request path before issue 14;
- with the cap (`stranger-request-cap`): the actor's count read from the signal store
  before the rules that need the relationship;
- with the cap and the network context: the demo policy's `community_ties` and `vouched`
  SQL (read from policies/demo.yaml), asked after the app answered, for the event.

The app's tables are the demo app's (`demo_app.tables`: the circle query's joins as the
demo runs them), with a population of children in schools and classes, their friends and
parents, and adults. Each row gives the time per request until the ASGI call returns (what
a worker spends) and until the answer's last byte is sent (what the client waits), the
ratio to the variant before it, and the middleware's own CPU per request (process CPU,
wrapped less bare; a wrapped round ends when what it queued is written). Before anything is
timed, each app is checked: every request answered 201, and the lookups the variant
declares are the ones it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import tempfile
import textwrap
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import orjson
import redis.asyncio as aioredis
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from demo_app.tables import accounts, friend_requests, friendships, metadata
from safe_accounts import SafeAccountsMiddleware
from safe_accounts.db.migrate import upgrade_url
from safe_accounts.policy.loader import load_policy
from safe_accounts.policy.model import Action
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts

from ._report import Row, median
from .bench_overhead import scope
from .bench_realistic import Unexpected, drop_pg_database, fresh_pg_database

SECTION = "contact"
REDIS_URL = os.environ.get("SAFE_ACCOUNTS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DEMO_POLICY = Path(__file__).resolve().parent.parent / "policies" / "demo.yaml"
SCHOOLS = 20
YEAR = 365 * 86400.0


@dataclass(frozen=True, slots=True)
class Settings:
    """How much to run; `FULL` is `make bench`'s, the tests run a tiny one."""

    database: str = "postgresql"  # or sqlite
    redis: bool = True  # the signal store: Redis, or in process
    population: int = 5_000
    rounds: int = 15
    per_round: int = 100
    warm: int = 120  # past the first crossings (requests-to-minors: 40, its month: 80)
    time_budget_ms: int = 250
    pg_database: str = "safe_accounts_bench_contact"


FULL = Settings()


# --- the policies ------------------------------------------------------------------------


def _demo_sql() -> dict[str, str]:
    """The demo policy's relationship lookups, as it ships them."""
    relationships = load_policy(DEMO_POLICY).policy.relationships
    found = {
        name: lookup.sql
        for name, lookup in (
            ("connected", relationships.connected),
            ("mutual_count", relationships.mutual_count),
            ("community_ties", relationships.community_ties),
            ("vouched", relationships.vouched),
        )
        if lookup is not None and lookup.sql is not None
    }
    assert len(found) == 4, f"policies/demo.yaml no longer declares its four lookups in SQL: {sorted(found)}"
    return found


def _lookups(names: tuple[str, ...]) -> str:
    sql = _demo_sql()
    return "".join(f"  {name}:\n    sql: >-\n{textwrap.indent(sql[name], '      ')}\n" for name in names)


def policy(variant: Variant, time_budget_ms: int) -> str:
    lookups = ("connected", "mutual_count", *(("community_ties", "vouched") if variant.network_context else ()))
    cap = "" if variant.cap else "rules:\n  - {id: stranger-request-cap, enabled: false}\n"
    return (
        textwrap.dedent(
            f"""\
            version: 1
            name: bench-contact
            extends: baseline
            defaults: {{time_budget_ms: {time_budget_ms}}}
            identity:
              - {{source: header, header: x-account-id, trusted_proxies: ["127.0.0.1/32"]}}
            bands:
              store: {{source: host, table: accounts, id_column: id, birth_date_column: birth_date}}
            routes:
              - {{name: friend-request, method: POST, path: /api/friend-requests, action: contact_request,
                 targets: [{{json: to}}]}}
            """
        )
        + cap
        + "relationships:\n"
        + _lookups(lookups)
        + "  cache_seconds: 30\n"
    )


class Variant(NamedTuple):
    what: str
    cap: bool
    network_context: bool


VARIANTS = (
    Variant("baseline without the cap and the network context", cap=False, network_context=False),
    Variant("with the cap (the actor's count read from the signal store)", cap=True, network_context=False),
    Variant(
        "with the cap and the network context (the demo's community_ties and vouched SQL after the answer)",
        cap=True,
        network_context=True,
    ),
)


# --- the app and its people ----------------------------------------------------------------


def app_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        return create_async_engine(url, connect_args={"timeout": 30})
    return create_async_engine(url, pool_size=20, max_overflow=10)


def host_app(url: str) -> Starlette:
    engine = app_engine(url)

    async def friend_request(request: Request) -> JSONResponse:
        sender, to = int(request.headers["x-account-id"]), int((await request.json())["to"])
        async with engine.begin() as conn:
            pending = await conn.scalar(
                select(friend_requests.c.id).where(
                    friend_requests.c.from_id == sender,
                    friend_requests.c.to_id == to,
                    friend_requests.c.status == "pending",
                )
            )
            if pending is None:
                pending = await conn.scalar(
                    insert(friend_requests)
                    .values(from_id=sender, to_id=to, status="pending", created_at=time.time())
                    .returning(friend_requests.c.id)
                )
        return JSONResponse({"id": pending, "to": to, "status": "pending"}, status_code=201)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = Starlette(routes=[Route("/api/friend-requests", friend_request, methods=["POST"])], lifespan=lifespan)
    app.state.engine = engine
    return app


class People(NamedTuple):
    stranger: int  # an adult whose friends are adults only
    child: int  # 14, with classmates for friends and a parent


def born(age: int, today: date, days: int = 120) -> date:
    return today - timedelta(days=365 * age + days)


async def seed(url: str, population: int) -> People:
    """The demo app's tables: children in schools (a class: one school, one year of birth),
    each a friend of classmates and of a parent; adults friends of adults; friendships a
    year old."""
    await upgrade_url(url)
    engine = app_engine(url)
    today, now = date.today(), time.time()
    rng = random.Random(14)
    children = population * 3 // 5
    people: list[dict[str, Any]] = []
    for i in range(1, population + 1):
        child = i <= children
        age = 11 + (i // SCHOOLS) % 6 if child else 25 + i % 50
        people.append(
            {
                "id": i,
                "handle": f"user{i}",
                "display_name": f"User {i}",
                "birth_date": born(age, today),
                "school": f"school-{i % SCHOOLS}" if child else None,
                "bio": "",
                "role": "child" if child else "adult",
            }
        )
    stranger = population + 1
    people.append(
        {
            "id": stranger,
            "handle": "stranger",
            "display_name": "Stranger",
            "birth_date": born(35, today),
            "school": None,
            "bio": "",
            "role": "adult",
        }
    )
    pairs: set[tuple[int, int]] = set()
    for i in range(1, children + 1):
        # Classmates: the same school and year of birth are every 6 * SCHOOLS ids apart.
        for step in (1, 2, 3):
            mate = i + step * 6 * SCHOOLS
            if mate <= children:
                pairs.add((i, mate))
        pairs.add((i, children + 1 + (i - 1) % (population - children)))  # a parent
    for a in range(children + 1, population + 1):
        for _ in range(5):
            pairs.add((a, rng.randint(children + 1, population)))
    for _ in range(5):
        pairs.add((stranger, rng.randint(children + 1, population)))
    rows = [
        {"account_id": x, "friend_id": y, "created_at": now - YEAR}
        for a, b in pairs
        if a != b
        for x, y in ((a, b), (b, a))
    ]
    rows = list({(r["account_id"], r["friend_id"]): r for r in rows}.values())
    child = 3 * SCHOOLS  # (child // SCHOOLS) % 6 == 3: 11 + 3 years old
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
            await conn.run_sync(metadata.create_all)
            await conn.execute(insert(accounts), people)
            for start in range(0, len(rows), 5_000):
                await conn.execute(insert(friendships), rows[start : start + 5_000])
    finally:
        await engine.dispose()
    return People(stranger, child)


@contextlib.asynccontextmanager
async def database(settings: Settings, tmp: Path) -> AsyncIterator[str]:
    if settings.database == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp / 'contact.db'}"
        return
    url = await fresh_pg_database(settings.pg_database)
    try:
        yield url
    finally:
        await drop_pg_database(settings.pg_database)


# --- timing -------------------------------------------------------------------------------


class Timing(NamedTuple):
    """One round, per request in µs: until the call returned, until the answer was sent,
    and the process's CPU."""

    wall: float
    answered: float
    cpu: float


async def timed(app: Any, sc: dict[str, Any], body: bytes, requests: int, after: Any = None) -> Timing:
    answered = 0.0
    refused: list[int] = []
    cpu, start = time.process_time(), time.perf_counter()
    for _ in range(requests):
        began = time.perf_counter()
        sent = False
        status, done = 0, began

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, done
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                done = time.perf_counter()

        await app(sc, receive, send)
        answered += done - began
        if status != 201:
            refused.append(status)
    if after is not None:
        await after()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    if refused:
        raise Unexpected(f"{len(refused)} of {requests} requests answered {sorted(set(refused))}, not 201")
    return Timing(wall / requests * 1e6, answered / requests * 1e6, cpu / requests * 1e6)


def check(app: SafeAccountsMiddleware, variant: Variant) -> None:
    """The variant runs the lookups it declares, and only those."""
    runtime = app.runtime
    assert runtime is not None
    has = (runtime.ties is not None, runtime.vouched is not None)
    if has != (variant.network_context, variant.network_context):
        raise Unexpected(f"{variant.what}: community_ties and vouched lookups {has}")
    capped = any(r.id == "stranger-request-cap" for r in runtime.policy.rules[Action.CONTACT_REQUEST].rules)
    if capped != variant.cap:
        raise Unexpected(f"{variant.what}: the cap is {'on' if capped else 'off'}")


async def _forget_redis(prefixes: list[str]) -> None:
    client = aioredis.from_url(REDIS_URL)
    try:
        for prefix in prefixes:
            keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
            for start in range(0, len(keys), 1000):
                await client.delete(*keys[start : start + 1000])
    finally:
        await client.aclose()


async def measure_with(settings: Settings, tmp: Path) -> list[Row]:
    label = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}[settings.database]
    store = "Redis" if settings.redis else "in-process store"
    prefixes = [f"sabench-contact:{uuid.uuid4().hex[:8]}:{i}:" for i in range(len(VARIANTS))]
    async with database(settings, tmp) as url:
        people = await seed(url, settings.population)
        body = orjson.dumps({"to": people.child})
        sc = scope("POST", "/api/friend-requests", str(people.stranger), body)
        bare = host_app(url)
        inner = [host_app(url) for _ in VARIANTS]
        wrapped: list[SafeAccountsMiddleware] = []
        try:
            for index, variant in enumerate(VARIANTS):
                policy_file = tmp / f"policy-{index}.yaml"
                policy_file.write_text(policy(variant, settings.time_budget_ms))
                app = SafeAccountsMiddleware(
                    inner[index],
                    policy=policy_file,
                    database_url=url,
                    health_path=None,
                    redis_url=REDIS_URL if settings.redis else None,
                    redis_prefix=prefixes[index],
                    signals=attach_grooming_alerts(),
                )
                wrapped.append(app)
                await app.start()
                check(app, variant)
            for app in (bare, *wrapped):
                await timed(app, sc, body, settings.warm, after=getattr(app, "drain", None))
            rounds: list[list[Timing]] = [[] for _ in range(1 + len(wrapped))]
            for _ in range(settings.rounds):
                rounds[0].append(await timed(bare, sc, body, settings.per_round))
                for i, app in enumerate(wrapped, start=1):
                    rounds[i].append(await timed(app, sc, body, settings.per_round, after=app.drain))
        finally:
            for app in wrapped:
                await app.close()
            for starlette in (bare, *inner):
                await starlette.state.engine.dispose()
            if settings.redis:
                await _forget_redis(prefixes)
    what = f"{label}, {store}: contact request, adult to a 14-year-old they share no friends with"
    wall = [median(r.wall for r in measured) for measured in rounds]
    answered = [median(r.answered for r in measured) for measured in rounds]
    cpu = [median(r.cpu for r in measured) for measured in rounds]
    rows = [Row(SECTION, f"{what}: bare app (one SELECT)", f"{wall[0]:,.0f} µs")]
    for i, variant in enumerate(VARIANTS, start=1):
        before = "bare" if i == 1 else "the row above"
        rows.append(
            Row(
                SECTION,
                f"{what}: {variant.what}",
                f"{wall[i]:,.0f} µs a request ({answered[i]:,.0f} µs to the answer's last byte): ratio "
                f"{wall[i] / wall[i - 1]:.2f} to {before} ({wall[i] - wall[i - 1]:+,.0f} µs, to the answer "
                f"{answered[i] - answered[i - 1]:+,.0f} µs); middleware CPU {cpu[i] - cpu[0]:+,.0f} µs a request",
            )
        )
    for row in rows:
        print(f"  {row.what}: {row.figure}", flush=True)
    return rows


def measure(settings: Settings = FULL) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(measure_with(settings, Path(tmp)))


def run() -> list[Row]:
    return measure(FULL)
