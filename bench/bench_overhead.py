"""In-process overhead: the same Starlette app bare and behind Safe Accounts, driven directly.

No sockets: each request is one `await app(scope, receive, send)`, so what is measured is
the middleware's own cost. Rounds of bare and wrapped alternate, and each scenario reports
the ratio of medians measured in the same run (the machine is shared and noisy), and beside
it the middleware's own CPU: the process's CPU time per request, wrapped less bare (a
wrapped round ends when the rows it queued are written, so their writing is charged to it).
"""

from __future__ import annotations

import asyncio
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any, NamedTuple

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from safe_accounts import AgeBand, SafeAccountsMiddleware
from safe_accounts.db.migrate import upgrade_url

from ._report import Row, median

SECTION = "overhead"
ROUNDS = 15
PER_ROUND = 400

POLICY = textwrap.dedent(
    """
    version: 1
    name: bench
    extends: baseline
    identity:
      - {source: header, header: x-account-id, trusted_proxies: ["127.0.0.1/32"]}
    relationships:
      connected: {sql: "SELECT b FROM friendships WHERE a = :actor AND b IN :targets"}
      mutual_count: {sql: "SELECT COUNT(*) FROM friendships WHERE a = :actor AND b = :target"}
      cache_seconds: 3600
    routes:
      - {name: dm, method: POST, path: /api/messages, action: direct_message, targets: [{json: to}]}
      - {name: search, method: GET, path: /api/search, action: discovery,
         response: {items: "results[*]", id: id}}
    """
)

PEOPLE = [{"id": f"user-{i}", "handle": f"user{i}", "display_name": f"User {i}"} for i in range(50)]
MINORS = {f"user-{i}" for i in range(0, 50, 5)}  # 10 of 50


def host_app() -> Starlette:
    async def dm(request: Request) -> JSONResponse:
        payload = await request.json()
        return JSONResponse({"sent": True, "to": payload.get("to")}, status_code=201)

    async def search(request: Request) -> JSONResponse:
        return JSONResponse({"results": PEOPLE})

    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hello")

    return Starlette(routes=[
        Route("/api/messages", dm, methods=["POST"]),
        Route("/api/search", search),
        Route("/hello", hello),
    ])


def scope(method: str, path: str, actor: str, body: bytes = b"") -> dict[str, Any]:
    headers = [(b"host", b"bench"), (b"x-account-id", actor.encode())]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "headers": headers, "client": ("127.0.0.1", 40000), "server": ("bench", 80),
    }


async def one(app: Any, sc: dict[str, Any], body: bytes) -> int:
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(sc, receive, send)
    return status


class Round(NamedTuple):
    """One round's wall-clock and process CPU time per request, in µs."""

    wall: float
    cpu: float


async def per_request(
    app: Any, sc: dict[str, Any], body: bytes, requests: int = PER_ROUND, after: Any = None
) -> Round:
    """Time `requests` calls of `app`; `after` (awaited inside the timing) ends the round,
    e.g. by writing what the middleware queued."""
    cpu, start = time.process_time(), time.perf_counter()
    for _ in range(requests):
        await one(app, sc, body)
    if after is not None:
        await after()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return Round(wall / requests * 1e6, cpu / requests * 1e6)


def own_cpu(bare: list[Round], wrapped: list[Round], listed: int = 0) -> str:
    """The middleware's own CPU per request (medians, wrapped less bare), and per listed
    account when the request answers a page of `listed` accounts."""
    extra = median(r.cpu for r in wrapped) - median(r.cpu for r in bare)
    text = f"middleware CPU {extra:+.1f} µs per request"
    if listed:
        text += f", {extra / listed:+.2f} µs per listed account"
    return text


async def measure() -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await upgrade_url(url)
        policy = Path(tmp) / "policy.yaml"
        policy.write_text(POLICY)
        bare = host_app()
        wrapped = SafeAccountsMiddleware(host_app(), policy=policy, database_url=url, signals=None, health_path=None)
        runtime = await wrapped.start()
        async with wrapped.engine.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE friendships (a VARCHAR(64), b VARCHAR(64))")
            await conn.exec_driver_sql("INSERT INTO friendships VALUES ('parent', 'child'), ('child', 'parent')")
        for account in ("adult", "other-adult", "parent"):
            await runtime.bands.set(account, band=AgeBand.ADULT)
        await runtime.bands.set("child", band=AgeBand.B13_15)
        for person in PEOPLE:
            band = AgeBand.B13_15 if person["id"] in MINORS else AgeBand.ADULT
            await runtime.bands.set(person["id"], band=band)

        def dm_to(target: str, actor: str = "adult") -> tuple[dict[str, Any], bytes]:
            body = orjson.dumps({"to": target, "text": "hello there"})
            return scope("POST", "/api/messages", actor, body), body

        # what: (request, the bare request it is compared with, target, accounts listed)
        scenarios = {
            "unknown route (GET /hello)": ((scope("GET", "/hello", "adult"), b""), None, 1.05, 0),
            "allowed DM, adult to adult": (dm_to("other-adult"), None, 1.5, 0),
            "allowed DM, parent to connected minor": (dm_to("child", "parent"), None, 1.5, 0),
            "blocked stranger DM to a minor (vs bare DM)": (dm_to("child"), dm_to("other-adult"), 1.5, 0),
            "search, 50 accounts, 10 minors filtered": (
                (scope("GET", "/api/search", "adult"), b""), None, 1.5, len(PEOPLE)
            ),
        }
        rows: list[Row] = []
        for what, ((sc, body), bare_case, target, listed) in scenarios.items():
            bare_sc, bare_body = bare_case if bare_case else (sc, body)
            for _ in range(50):  # warm every cache on both sides
                await one(wrapped, sc, body)
                await one(bare, bare_sc, bare_body)
            await wrapped.drain()
            bare_rounds: list[Round] = []
            wrapped_rounds: list[Round] = []
            for _ in range(ROUNDS):
                bare_rounds.append(await per_request(bare, bare_sc, bare_body))
                wrapped_rounds.append(await per_request(wrapped, sc, body, after=wrapped.drain))
            b, w = median(r.wall for r in bare_rounds), median(r.wall for r in wrapped_rounds)
            ratio = w / b
            rows.append(Row(
                SECTION, what,
                f"{b:.1f} µs bare, {w:.1f} µs wrapped: ratio {ratio:.2f}; "
                f"{own_cpu(bare_rounds, wrapped_rounds, listed)}",
                f"<= {target}", ratio <= target,
            ))
            print(f"  {what}: {rows[-1].figure}", flush=True)
        await wrapped.close()
        return rows


def run() -> list[Row]:
    return asyncio.run(measure())
