"""A small host app (its own tables, its own routes) behind the middleware, on real SQL.

The app records what reached it, so tests can say "the child never received it".
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.alerts.pipeline import GroomingAlerts
from safe_accounts.bands.age import AgeBand, Assurance
from safe_accounts.bands.directory import BandDirectory
from safe_accounts.bands.store import OwnBandStore
from safe_accounts.clock import FrozenClock
from safe_accounts.policy.model import BandCacheSettings

POLICY = textwrap.dedent(
    """
    version: 1
    name: test-app
    extends: baseline
    defaults:
      # The baseline's 250 ms is a production budget; on a shared, loaded test machine a cold
      # first query can take longer. Tests about the budget set it back to 250.
      time_budget_ms: 2000
    identity:
      - source: header
        header: x-account-id
        trusted_proxies: ["127.0.0.1/32"]
    relationships:
      connected:
        sql: SELECT b FROM host_friendships WHERE a = :actor AND b IN :targets
      mutual_count:
        sql: >-
          SELECT COUNT(*) FROM host_friendships f1 JOIN host_friendships f2 ON f1.b = f2.b
          WHERE f1.a = :actor AND f2.a = :target
      cache_seconds: 0
    queries:
      conversation_members:
        sql: SELECT member FROM host_members WHERE conversation = :conversation
      request_sender:
        sql: SELECT sender FROM host_requests WHERE id = :request
    routes:
      - name: dm-v1
        method: POST
        path: /api/v1/messages
        action: direct_message
        targets: [{json: to}, {json: "recipients[*]"}, {form: to}, {query: to}]
      - name: dm-v2
        method: POST
        path: /api/v2/conversations/{conversation}/messages
        action: direct_message
        targets: [{sql: conversation_members, params: {conversation: path.conversation}}]
      - name: group-create
        method: POST
        path: /api/v1/conversations
        action: direct_message
        targets: [{json: "participants[*]"}, {json: "participants[*].id"}]
      - name: friend-request
        method: POST
        path: /api/friend-requests
        action: contact_request
        targets: [{json: to}]
      - name: friend-answer
        method: POST
        path: /api/friend-requests/{request:int}/{answer}
        action: contact_response
        targets: [{sql: request_sender, params: {request: path.request}}]
        response_from: {field: path.answer}
      - name: friend-answer-v2
        method: POST
        path: /api/v2/friend-requests/{request}/{answer}
        action: contact_response
        response_from: {field: path.answer}
        response: {id: from}
      - name: profile
        method: GET
        path: /api/accounts/{account}
        action: profile_view
        targets: [{path: account}]
        response: {redact: [location, school, friends], lists: ["friends[*]"]}
      - name: search
        method: GET
        path: /api/search
        action: discovery
        response: {items: "results[*]", id: id, notice_field: safety_notice}
      - name: block
        method: POST
        path: /api/blocks
        action: block
        targets: [{json: account}]
      - name: report
        method: POST
        path: /api/reports
        action: report
        targets: [{json: account}]
    """
)
# The same policy with the baseline's production time budget: for the load runs and the
# tests whose subject is the budget.
PRODUCTION_POLICY = POLICY.replace("time_budget_ms: 2000", "time_budget_ms: 250")
assert PRODUCTION_POLICY != POLICY

HOST_TABLES = [
    "CREATE TABLE IF NOT EXISTS host_friendships (a VARCHAR(64), b VARCHAR(64))",
    "CREATE TABLE IF NOT EXISTS host_members (conversation VARCHAR(64), member VARCHAR(64))",
    "CREATE TABLE IF NOT EXISTS host_requests (id VARCHAR(64), sender VARCHAR(64))",
]

# The cast: who is who, by band.
ACCOUNTS = {
    "adult": AgeBand.ADULT,
    "parent": AgeBand.ADULT,
    "other-adult": AgeBand.ADULT,
    "kid": AgeBand.B13_15,
    "young": AgeBand.UNDER_13,
    "teen": AgeBand.B16_17,
    "kid-friend": AgeBand.B13_15,
}
# Friend requests the v2 answer route knows: request id -> the account that sent it.
REQUEST_SENDERS: dict[str, str] = {}
FRIENDS = [("parent", "kid"), ("kid", "kid-friend"), ("parent", "other-adult")]


class HostApp:
    """What reached the app, per route."""

    def __init__(self) -> None:
        self.received: list[tuple[str, Any]] = []

    def build(self) -> Starlette:
        async def dm(request: Request) -> JSONResponse:
            body = await request.body()
            self.received.append(("dm", body))
            return JSONResponse({"sent": True}, status_code=201)

        async def dm_v2(request: Request) -> JSONResponse:
            self.received.append(("dm-v2", request.path_params["conversation"]))
            return JSONResponse({"sent": True}, status_code=201)

        async def friend_request(request: Request) -> JSONResponse:
            self.received.append(("friend-request", await request.json()))
            return JSONResponse({"id": 1}, status_code=201)

        async def friend_answer(request: Request) -> JSONResponse:
            self.received.append(("answer", dict(request.path_params)))
            return JSONResponse({"ok": True})

        async def friend_answer_v2(request: Request) -> JSONResponse:
            # The app answers with the request it changed: that is where the requester is named.
            self.received.append(("answer-v2", dict(request.path_params)))
            sender = REQUEST_SENDERS.get(request.path_params["request"])
            if sender is None:
                return JSONResponse({"detail": "no such request"}, status_code=404)
            return JSONResponse({"id": request.path_params["request"], "from": sender, "status": "done"})

        async def profile(request: Request) -> JSONResponse:
            account = request.path_params["account"]
            self.received.append(("profile", account))
            friends = [{"id": b} for a, b in FRIENDS if a == account] + [{"id": a} for a, b in FRIENDS if b == account]
            return JSONResponse(
                {"id": account, "name": account.title(), "location": "Leeds", "school": "Park High",
                 "friends": friends}
            )

        async def search(request: Request) -> JSONResponse:
            self.received.append(("search", request.query_params.get("q")))
            return JSONResponse({"results": [{"id": a, "name": a} for a in ACCOUNTS], "total": len(ACCOUNTS)})

        async def block(request: Request) -> JSONResponse:
            self.received.append(("block", await request.json()))
            return JSONResponse({"ok": True})

        async def unknown(request: Request) -> PlainTextResponse:
            self.received.append(("unknown", request.url.path))
            return PlainTextResponse("hello")

        return Starlette(
            routes=[
                Route("/api/v1/messages", dm, methods=["POST"]),
                Route("/api/v2/conversations/{conversation}/messages", dm_v2, methods=["POST"]),
                Route("/api/v1/conversations", dm, methods=["POST"]),
                Route("/api/friend-requests", friend_request, methods=["POST"]),
                Route("/api/friend-requests/{request:int}/{answer}", friend_answer, methods=["POST"]),
                Route("/api/v2/friend-requests/{request}/{answer}", friend_answer_v2, methods=["POST"]),
                Route("/api/accounts/{account}", profile),
                Route("/api/search", search),
                Route("/api/blocks", block, methods=["POST"]),
                Route("/api/reports", block, methods=["POST"]),
                Route("/hello", unknown),
            ]
        )


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(1_800_000_000)


async def seed(engine: AsyncEngine, clock: FrozenClock) -> None:
    async with engine.begin() as conn:
        for ddl in HOST_TABLES:
            await conn.exec_driver_sql(ddl)
        for table in ("host_friendships", "host_members", "host_requests"):
            await conn.exec_driver_sql(f"DELETE FROM {table}")
        for a, b in FRIENDS:
            await conn.exec_driver_sql(f"INSERT INTO host_friendships VALUES ('{a}', '{b}'), ('{b}', '{a}')")
        await conn.exec_driver_sql(
            "INSERT INTO host_members VALUES ('c-family', 'parent'), ('c-family', 'kid'), "
            "('c-stranger', 'adult'), ('c-stranger', 'kid')"
        )
        await conn.exec_driver_sql("INSERT INTO host_requests VALUES ('7', 'adult')")
    directory = BandDirectory(OwnBandStore(engine, clock=clock), cache=BandCacheSettings(), clock=clock)
    for account, band in ACCOUNTS.items():
        await directory.set(account, band=band, assurance=Assurance.SELF_DECLARED)
    await directory.close()


async def drop_host_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for table in ("host_friendships", "host_members", "host_requests"):
            await conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")


class Wrapped:
    def __init__(self, host: HostApp, middleware: SafeAccountsMiddleware, client: httpx.AsyncClient) -> None:
        self.host = host
        self.middleware = middleware
        self.client = client

    async def post(self, path: str, actor: str | None, **kwargs: Any) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if actor is not None:
            headers["x-account-id"] = actor
        return await self.client.post(path, headers=headers, **kwargs)

    async def get(self, path: str, actor: str | None, **kwargs: Any) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if actor is not None:
            headers["x-account-id"] = actor
        return await self.client.get(path, headers=headers, **kwargs)

    def reached(self, kind: str) -> list[Any]:
        return [payload for k, payload in self.host.received if k == kind]

    @property
    def alerts(self) -> GroomingAlerts:
        """The running worker's grooming alerts (its policy has signals)."""
        runtime = self.middleware.runtime
        assert runtime is not None and runtime.alerts is not None
        return runtime.alerts

    async def decisions(self) -> list[dict[str, Any]]:
        from safe_accounts.decisions.table import decision_log

        await self.middleware.drain()
        async with self.middleware.engine.connect() as conn:
            rows = (await conn.execute(decision_log.select().order_by(decision_log.c.at))).mappings().all()
        return [dict(r) for r in rows]


@pytest.fixture
async def wrapped(
    engine: AsyncEngine, database_url: str, policy_file: Path, clock: FrozenClock
) -> AsyncIterator[Wrapped]:
    await seed(engine, clock)
    host = HostApp()
    middleware = SafeAccountsMiddleware(
        host.build(), policy=policy_file, database_url=database_url, clock=clock, signals=None
    )
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Wrapped(host, middleware, client)
    await middleware.close()
    await drop_host_tables(engine)


def today() -> date:
    return FrozenClock(1_800_000_000).today()
