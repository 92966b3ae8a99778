"""A chat app with WebSocket routes behind the middleware, on real SQL, with the real
grooming-signal pipeline (in-process store) and its real restrictions.

Identity is a JWT in a cookie or a `?token=` query parameter, as browsers send it on a
WebSocket handshake (they cannot set headers on one). The app acknowledges every frame
it receives and records it, so tests can say "the child never received it".
"""

from __future__ import annotations

import socket
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.alerts.pipeline import GroomingAlerts
from safe_accounts.clock import FrozenClock
from safe_accounts.errors import StorageError
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts
from tests.middleware.conftest import drop_host_tables, seed

KEY_ENV = "SAFE_ACCOUNTS_TEST_WS_KEY"
KEY = "websocket-test-key-of-at-least-32-bytes!"

POLICY = textwrap.dedent(
    f"""
    version: 1
    name: chat-app
    extends: baseline
    # A production budget is 250 ms; a loaded test machine can take longer over a cold query.
    defaults: {{time_budget_ms: 2000}}
    identity:
      - source: jwt
        cookie: session
        query: token
        key_env: {KEY_ENV}
    relationships:
      connected:
        sql: SELECT b FROM host_friendships WHERE a = :actor AND b IN :targets
      mutual_count:
        sql: >-
          SELECT COUNT(*) FROM host_friendships f1 JOIN host_friendships f2 ON f1.b = f2.b
          WHERE f1.a = :actor AND f2.a = :target
      cache_seconds: 0
    queries:
      room_members:
        sql: SELECT member FROM host_members WHERE conversation = :room
    routes:
      - name: chat-with
        method: WEBSOCKET
        path: /ws/chat/{{peer}}
        action: direct_message
        targets: [{{path: peer}}]
      - name: chat-as
        method: WEBSOCKET
        path: /ws/users/{{me}}/chat/{{peer}}
        action: direct_message
        targets: [{{path: peer}}]
        sender: path.me
      - name: room
        method: WEBSOCKET
        path: /ws/rooms/{{room}}
        action: direct_message
        targets: [{{sql: room_members, params: {{room: path.room}}}}]
      - name: dm-query
        method: WEBSOCKET
        path: /ws/dm
        action: direct_message
        targets: [{{query: to}}]
        sender: query.from
      - name: broken-lookup
        method: WEBSOCKET
        path: /ws/broken/{{peer}}
        action: direct_message
        targets: [{{callable: "tests.websocket.conftest:broken_lookup"}}]
      - name: inbox
        method: WEBSOCKET
        path: /ws/inbox
        action: direct_message
        frames:
          kind: type
          actions: {{message: direct_message, friend_request: contact_request}}
          recipient: [to, "recipients[*]"]
          sender: from
      - name: inbox-strict
        method: WEBSOCKET
        path: /ws/strict
        action: direct_message
        frames: {{actions: {{message: direct_message}}, recipient: to, on_deny: close, on_unparseable: close}}
      - name: inbox-lenient
        method: WEBSOCKET
        path: /ws/lenient
        action: direct_message
        frames: {{actions: {{message: direct_message}}, recipient: to, on_unparseable: pass}}
    """
)


TEST_NOW = 1_800_000_000  # the `clock` fixture's time: expiry is checked on the middleware's clock


def token(account: str, *, key: str = KEY, lifetime: int = 3600) -> str:
    return jwt.encode({"sub": account, "exp": TEST_NOW + lifetime}, key, algorithm="HS256")


async def broken_lookup(view: Any) -> list[str]:
    """A peer lookup whose store is down (`/ws/broken/down`) or which has a bug (`/ws/broken/bug`)."""
    if view.path_params["peer"] == "down":
        raise StorageError("the host's members table is unreachable")
    raise RuntimeError("a bug in the lookup")


def cookie(account: str) -> list[tuple[bytes, bytes]]:
    return [(b"cookie", f"theme=dark; session={token(account)}".encode())]


class ChatApp:
    """What reached the app: every accepted socket and every frame, by route."""

    def __init__(self) -> None:
        self.connected: list[str] = []
        self.frames: list[tuple[str, str | bytes]] = []

    def build(self) -> Starlette:
        def endpoint(name: str) -> Callable[[WebSocket], Awaitable[None]]:
            async def serve(websocket: WebSocket) -> None:
                await websocket.accept()
                self.connected.append(name)
                try:
                    while True:
                        message = await websocket.receive()
                        if message["type"] == "websocket.disconnect":
                            return
                        data = (
                            message.get("text")
                            if message.get("text") is not None
                            else message.get("bytes")
                        )
                        self.frames.append((name, data))
                        await websocket.send_json({"type": "ack", "n": len(self.frames)})
                except WebSocketDisconnect:
                    return

            return serve

        return Starlette(
            routes=[
                WebSocketRoute("/ws/chat/{peer}", endpoint("chat-with")),
                WebSocketRoute("/ws/users/{me}/chat/{peer}", endpoint("chat-as")),
                WebSocketRoute("/ws/rooms/{room}", endpoint("room")),
                WebSocketRoute("/ws/dm", endpoint("dm-query")),
                WebSocketRoute("/ws/broken/{peer}", endpoint("broken-lookup")),
                WebSocketRoute("/ws/inbox", endpoint("inbox")),
                WebSocketRoute("/ws/strict", endpoint("inbox-strict")),
                WebSocketRoute("/ws/lenient", endpoint("inbox-lenient")),
                WebSocketRoute("/ws/unlisted", endpoint("unlisted")),
            ]
        )

    def texts(self, route: str) -> list[str | bytes]:
        return [data for name, data in self.frames if name == route]


class Chat:
    """The wrapped app, its host and its alert pipeline."""

    def __init__(
        self, host: ChatApp, middleware: SafeAccountsMiddleware, alerted: list[Any]
    ) -> None:
        self.host = host
        self.middleware = middleware
        self.alerted = alerted

    @property
    def alerts(self) -> GroomingAlerts:
        assert self.middleware.runtime is not None
        alerts: GroomingAlerts = self.middleware.runtime.alerts
        return alerts

    async def decisions(self) -> list[dict[str, Any]]:
        from safe_accounts.decisions.table import decision_log

        await self.middleware.drain()
        async with self.middleware.engine.connect() as conn:
            rows = (
                (await conn.execute(decision_log.select().order_by(decision_log.c.at)))
                .mappings()
                .all()
            )
        return [dict(r) for r in rows]


@pytest.fixture
def policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(KEY_ENV, KEY)
    path = tmp_path / "chat-policy.yaml"
    path.write_text(POLICY)
    return path


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(TEST_NOW)


@pytest.fixture
async def chat(
    engine: AsyncEngine, database_url: str, policy_file: Path, clock: FrozenClock
) -> AsyncIterator[Chat]:
    """The middleware started (stores open), in front of the chat app."""
    await seed(engine, clock)
    alerted: list[Any] = []
    host = ChatApp()
    middleware = SafeAccountsMiddleware(
        host.build(),
        policy=policy_file,
        database_url=database_url,
        clock=clock,
        signals=attach_grooming_alerts(on_alert=alerted.append, flush_interval=0.01),
    )
    await middleware.start()
    yield Chat(host, middleware, alerted)
    await middleware.close()
    await drop_host_tables(engine)


def free_socket() -> socket.socket:
    """A listening socket on a loopback port the OS picked: nothing else can take it first."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock
