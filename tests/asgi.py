"""Driving ASGI apps directly in tests: a lifespan and a websocket session, no server needed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any


class Lifespan:
    """Runs an app's lifespan: `async with Lifespan(app):` is the server's start and stop."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Lifespan:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        self.task = asyncio.create_task(self.app(scope, self.inbox.get, self.outbox.put))
        await self.inbox.put({"type": "lifespan.startup"})
        message = await self._next()
        if message["type"] != "lifespan.startup.complete":
            raise RuntimeError(message.get("message", "startup failed"))
        return self

    async def _next(self) -> dict[str, Any]:
        assert self.task is not None
        getter = asyncio.create_task(self.outbox.get())
        done, _ = await asyncio.wait({getter, self.task}, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            return getter.result()
        getter.cancel()
        self.task.result()  # raises the app's error
        raise RuntimeError("lifespan ended without a reply")

    async def __aexit__(self, *exc: object) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        message = await self._next()
        assert message["type"] == "lifespan.shutdown.complete", message
        assert self.task is not None
        await self.task


@contextlib.asynccontextmanager
async def websocket(
    app: Any, path: str, headers: list[tuple[bytes, bytes]] | None = None
) -> AsyncIterator[tuple[asyncio.Queue[dict[str, Any]], asyncio.Queue[dict[str, Any]]]]:
    """(to_app, from_app) queues of a websocket session on `path`; connect is sent for you."""
    to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {
        "type": "websocket", "asgi": {"version": "3.0"}, "path": path, "raw_path": path.encode(),
        "root_path": "", "query_string": b"", "headers": headers or [], "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80), "scheme": "ws", "subprotocols": [], "extensions": {},
    }
    await to_app.put({"type": "websocket.connect"})
    task = asyncio.create_task(app(scope, to_app.get, from_app.put))
    try:
        yield to_app, from_app
    finally:
        await to_app.put({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(task, 5)
