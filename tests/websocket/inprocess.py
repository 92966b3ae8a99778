"""Driving the wrapped app in-process with `tests/asgi.websocket`, as a given server would."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson

from tests.asgi import websocket

# The ASGI extension through which a server lets the app answer a handshake with HTTP.
DENIAL = {"websocket.http.response": {}}


class Session:
    """One socket: what the client sends and what the server would put on the wire."""

    def __init__(self, to_app: Any, from_app: Any) -> None:
        self.to_app = to_app
        self.from_app = from_app

    async def next(self) -> dict[str, Any]:
        message: dict[str, Any] = await self.from_app.get()
        return message

    async def send_json(self, frame: Any) -> None:
        await self.to_app.put({"type": "websocket.receive", "text": orjson.dumps(frame).decode()})

    async def send_text(self, text: str) -> None:
        await self.to_app.put({"type": "websocket.receive", "text": text})

    async def send_bytes(self, data: bytes) -> None:
        await self.to_app.put({"type": "websocket.receive", "bytes": data})

    async def next_json(self) -> Any:
        message = await self.next()
        assert message["type"] == "websocket.send", message
        return orjson.loads(message["text"])


@contextlib.asynccontextmanager
async def connect(
    app: Any,
    path: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    query: str = "",
    extensions: dict[str, Any] | None = None,
) -> AsyncIterator[Session]:
    """A socket on `path`; `query` and the server's `extensions` go into the scope."""

    async def server(scope: Any, receive: Any, send: Any) -> None:
        await app(
            {**scope, "query_string": query.encode(), "extensions": extensions or {}}, receive, send
        )

    async with websocket(server, path, headers) as (to_app, from_app):
        yield Session(to_app, from_app)
