"""Who is acting, as the app knows it: a callable identity source, and a wrong wiring said out loud.

An app with its own token scheme names the actor with its own function (sync or async),
wherever the middleware sits. A middleware wrapped outside the app's authentication sees
only anonymous actors: it says so in the log and in health instead of silently refusing a
parent's message to her child as a stranger's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from safe_accounts import FrozenClock, SafeAccountsMiddleware
from safe_accounts.decide.refusal import UNAVAILABLE
from safe_accounts.decisions.table import decision_log
from safe_accounts.identity.wiring import ONLY_ANONYMOUS, SAMPLE
from safe_accounts.pipeline import problem
from tests.websocket.inprocess import connect

from .conftest import POLICY, HostApp, drop_host_tables, seed

HEALTH = "/.well-known/safe-accounts/health"
HEADER_IDENTITY = """identity:
  - source: header
    header: x-account-id
    trusted_proxies: ["127.0.0.1/32"]
"""
# The app's own sessions: an opaque token, looked up in the app's store.
SESSIONS = {"t-parent": "parent", "t-adult": "adult", "t-kid": "kid"}


def policy_with(identity: str, *, websocket: bool = False) -> str:
    assert HEADER_IDENTITY in POLICY
    text = POLICY.replace(HEADER_IDENTITY, identity)
    if websocket:
        text += (
            "  - {name: chat, method: WEBSOCKET, path: '/ws/chat/{peer}', action: direct_message,"
            " targets: [{path: peer}]}\n"
        )
    return text


async def session_account(scope: Any, headers: Any) -> str | None:
    """The app's own token scheme, as an `async def` identity callable."""
    await asyncio.sleep(0)  # the session store is over the network
    return SESSIONS.get(headers.get("x-app-token", ""))


def broken_account(scope: Any, headers: Any) -> str | None:
    raise RuntimeError("the app's session store is down")


class Member(BaseUser):
    def __init__(self, account: str) -> None:
        self.account = account

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def identity(self) -> str:
        return self.account


class TokenBackend(AuthenticationBackend):
    """The app's own authentication middleware: it sets `scope["user"]`."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        account = SESSIONS.get(conn.headers.get("x-app-token", ""))
        return None if account is None else (AuthCredentials(["authenticated"]), Member(account))


def token(account: str) -> dict[str, str]:
    return {"x-app-token": f"t-{account}"}


@pytest.fixture
async def seeded(engine: AsyncEngine, clock: FrozenClock) -> AsyncIterator[None]:
    await seed(engine, clock)
    yield
    await drop_host_tables(engine)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


def dm_to(peer: str) -> dict[str, Any]:
    return {"json": {"to": peer, "text": "hi"}}


# --- a callable identity source ----------------------------------------------------------


async def test_an_apps_own_token_scheme_names_the_actor_through_an_async_callable(
    seeded: None, tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    identity = f"identity:\n  - {{source: callable, callable: '{__name__}:session_account'}}\n"
    host = HostApp()
    middleware = SafeAccountsMiddleware(
        host.build(), policy=write(tmp_path, policy_with(identity)), database_url=database_url,
        clock=clock, signals=None,
    )
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        from_parent = await client.post("/api/v1/messages", headers=token("parent"), **dm_to("kid"))
        from_stranger = await client.post("/api/v1/messages", headers=token("adult"), **dm_to("kid"))
    await middleware.drain()
    async with middleware.engine.connect() as conn:
        rows = (await conn.execute(select(decision_log.c.actor_id, decision_log.c.rule))).all()
    await middleware.close()

    assert from_parent.status_code == 201
    assert from_stranger.status_code == 403
    assert [tuple(r) for r in rows] == [("adult", "stranger-dm-to-minor")]
    assert len(host.received) == 1


async def test_an_identity_callable_that_fails_refuses_the_request_and_never_guesses(
    seeded: None, tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    identity = f"identity:\n  - {{source: callable, callable: '{__name__}:broken_account'}}\n"
    host = HostApp()
    middleware = SafeAccountsMiddleware(
        host.build(), policy=write(tmp_path, policy_with(identity)), database_url=database_url,
        clock=clock, signals=None,
    )
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        refused = await client.post("/api/v1/messages", headers=token("parent"), **dm_to("kid"))
        unprotected = await client.get("/hello")
    await middleware.close()

    assert refused.status_code == 503
    assert refused.json()["type"] == problem.PROBLEM_BASE + UNAVAILABLE.kind
    assert [kind for kind, _ in host.received] == ["unknown"]  # only the route no rule protects
    assert unprotected.status_code == 200


async def test_a_websocket_handshake_awaits_the_callable_too(
    seeded: None, tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    identity = f"identity:\n  - {{source: callable, callable: '{__name__}:session_account'}}\n"
    accepted: list[str] = []

    async def chat(websocket: WebSocket) -> None:
        await websocket.accept()
        accepted.append(websocket.path_params["peer"])
        await websocket.close()

    app = Starlette(routes=[WebSocketRoute("/ws/chat/{peer}", chat)])
    middleware = SafeAccountsMiddleware(
        app, policy=write(tmp_path, policy_with(identity, websocket=True)), database_url=database_url,
        clock=clock, signals=None,
    )
    headers = [(k.encode(), v.encode()) for k, v in token("adult").items()]
    async with connect(middleware, "/ws/chat/kid", headers) as ws:
        from_stranger = await ws.next()
    headers = [(k.encode(), v.encode()) for k, v in token("parent").items()]
    async with connect(middleware, "/ws/chat/kid", headers) as ws:
        from_parent = await ws.next()
    await middleware.close()

    assert (from_stranger["type"], from_stranger["code"]) == ("websocket.close", 1008)
    assert from_parent["type"] == "websocket.accept"
    assert accepted == ["kid"]


async def test_a_websocket_handshake_whose_identity_callable_fails_is_closed_before_the_app(
    seeded: None, tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    identity = f"identity:\n  - {{source: callable, callable: '{__name__}:broken_account'}}\n"
    accepted: list[str] = []

    async def chat(websocket: WebSocket) -> None:
        accepted.append(websocket.path_params["peer"])
        await websocket.accept()

    app = Starlette(routes=[WebSocketRoute("/ws/chat/{peer}", chat)])
    middleware = SafeAccountsMiddleware(
        app, policy=write(tmp_path, policy_with(identity, websocket=True)), database_url=database_url,
        clock=clock, signals=None,
    )
    headers = [(k.encode(), v.encode()) for k, v in token("parent").items()]
    async with connect(middleware, "/ws/chat/kid", headers) as ws:
        closed = await ws.next()
    await middleware.close()

    assert (closed["type"], closed["code"]) == ("websocket.close", 1011)
    assert accepted == []


# --- a wrong wiring is said out loud ---------------------------------------------------------


def scope_user_policy(tmp_path: Path) -> Path:
    return write(tmp_path, policy_with("identity:\n  - {source: scope_user}\n"))


def inside(app: Any) -> SafeAccountsMiddleware:
    while not isinstance(app, SafeAccountsMiddleware):
        app = app.app
    return app


async def test_outside_the_apps_authentication_every_actor_is_anonymous_and_it_is_said(
    seeded: None, tmp_path: Path, database_url: str, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    host = HostApp().build()
    authenticated = Starlette(
        routes=host.routes, middleware=[Middleware(AuthenticationMiddleware, backend=TokenBackend())]
    )
    # The wrong way round: the app's authentication runs after us, so `scope["user"]` is unset.
    middleware = SafeAccountsMiddleware(
        authenticated, policy=scope_user_policy(tmp_path), database_url=database_url, clock=clock,
        signals=None,
    )
    caplog.set_level(logging.WARNING, logger="safe_accounts")
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for _ in range(SAMPLE - 1):
            refused = await client.post("/api/v1/messages", headers=token("parent"), **dm_to("kid"))
            assert refused.status_code == 403  # a parent refused as a stranger
        quiet = await client.get(HEALTH)
        for _ in range(SAMPLE):
            await client.post("/api/v1/messages", headers=token("parent"), **dm_to("kid"))
        health = await client.get(HEALTH)
    await middleware.close()

    warned = [r for r in caplog.records if r.msg == ONLY_ANONYMOUS]
    assert len(warned) == 1  # once, at the SAMPLE-th request, not again
    assert warned[0].getMessage() == ONLY_ANONYMOUS % SAMPLE
    assert quiet.json()["identity"] == {"identified": 0, "anonymous": SAMPLE - 1, "warning": None}
    assert health.json()["identity"] == {
        "identified": 0, "anonymous": 2 * SAMPLE - 1, "warning": ONLY_ANONYMOUS % SAMPLE,
    }


async def test_inside_the_apps_authentication_the_actor_is_named_and_nothing_is_said(
    seeded: None, tmp_path: Path, database_url: str, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    app = Starlette(
        routes=HostApp().build().routes,
        middleware=[
            Middleware(AuthenticationMiddleware, backend=TokenBackend()),
            Middleware(
                SafeAccountsMiddleware, policy=scope_user_policy(tmp_path), database_url=database_url,
                clock=clock, signals=None,
            ),
        ],
    )
    caplog.set_level(logging.WARNING, logger="safe_accounts")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        allowed = await client.post("/api/v1/messages", headers=token("parent"), **dm_to("kid"))
        for _ in range(2 * SAMPLE):  # logged-out visitors: anonymous, as they should be
            await client.post("/api/v1/messages", **dm_to("kid"))
        health = await client.get(HEALTH)
    await inside(app.middleware_stack).close()

    assert allowed.status_code == 201
    assert [r for r in caplog.records if r.msg == ONLY_ANONYMOUS] == []
    assert health.json()["identity"] == {"identified": 1, "anonymous": 2 * SAMPLE, "warning": None}
