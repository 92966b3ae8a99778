"""WebSocket frames: what the frame filter adds per frame over a socket the policy does not
list (which the middleware hands to the app untouched).

In-process, no server: a session is the middleware in front of a tiny app that accepts and
reads every frame; `receive` hands out prebuilt messages, `send` drops what it is given, so
the figure is the middleware's own work (JSON parse, kind and recipients read, bands and
relationship from the in-process caches, the verdict; for a denied frame also the notice,
the decision-log row queued). Bands and relationships are warm, as they are for an open
conversation. Embedded SQLite in a temporary directory; no signal pipeline.
"""

from __future__ import annotations

import asyncio
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from safe_accounts import AgeBand, SafeAccountsMiddleware
from safe_accounts.db import migrate

from ._report import Row, median

SECTION = "websocket"
FRAMES = 2_000
ROUNDS = 7

POLICY = textwrap.dedent(
    """
    version: 1
    name: bench-websocket
    extends: baseline
    identity:
      - source: header
        header: x-account-id
        trusted_proxies: ["127.0.0.1/32"]
    relationships:
      connected:
        sql: SELECT b FROM host_friendships WHERE a = :actor AND b IN :targets
    routes:
      - name: inbox
        method: WEBSOCKET
        path: /ws/inbox
        action: direct_message
        frames:
          actions: {message: direct_message}
          recipient: to
      - name: chat-with
        method: WEBSOCKET
        path: /ws/chat/{peer}
        action: direct_message
        targets: [{path: peer}]
    """
)

BANDS = {
    "adult": AgeBand.ADULT,
    "other-adult": AgeBand.ADULT,
    "parent": AgeBand.ADULT,
    "kid": AgeBand.B13_15,
}


async def _reader(
    scope: Any, receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
) -> None:
    """The app: accept, then read frames until the client leaves."""
    await receive()
    await send({"type": "websocket.accept"})
    while (await receive())["type"] == "websocket.receive":
        pass


async def _session(app: Any, path: str, actor: str, frame: Any) -> float:
    """Seconds per frame for FRAMES copies of `frame` on one socket."""
    text = frame if isinstance(frame, str) else orjson.dumps(frame).decode()
    messages = iter(
        [{"type": "websocket.connect"}]
        + [{"type": "websocket.receive", "text": text} for _ in range(FRAMES)]
        + [{"type": "websocket.disconnect", "code": 1000}]
    )

    async def receive() -> Any:
        return next(messages)

    async def send(message: Any) -> None:
        return None

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"x-account-id", actor.encode())],
        "client": ("127.0.0.1", 5000),
        "server": ("bench", 80),
        "scheme": "ws",
        "subprotocols": [],
        "extensions": {},
    }
    started = time.perf_counter()
    await app(scope, receive, send)
    return (time.perf_counter() - started) / FRAMES


CASES: list[tuple[str, str, str, Any]] = [
    (
        "unfiltered socket (route not in the policy)",
        "/ws/plain",
        "adult",
        {"type": "message", "to": "kid", "text": "hello there"},
    ),
    (
        "filtered, frame kind not classified (parse only)",
        "/ws/inbox",
        "adult",
        {"type": "typing", "to": "kid"},
    ),
    (
        "filtered, adult to adult: delivered",
        "/ws/inbox",
        "adult",
        {"type": "message", "to": "other-adult", "text": "hello there"},
    ),
    (
        "filtered, parent to connected child: delivered",
        "/ws/inbox",
        "parent",
        {"type": "message", "to": "kid", "text": "hello there"},
    ),
    (
        "filtered, stranger to child: dropped, notice, decision row",
        "/ws/inbox",
        "adult",
        {"type": "message", "to": "kid", "text": "hello there"},
    ),
    (
        "socket to one peer (parent to child), each frame judged again",
        "/ws/chat/kid",
        "parent",
        "hello there",
    ),
]


async def _measure() -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await migrate.upgrade_url(url)
        policy = Path(tmp) / "policy.yaml"
        policy.write_text(POLICY)
        middleware = SafeAccountsMiddleware(_reader, policy=policy, database_url=url, signals=None)
        runtime = await middleware.start()
        try:
            async with middleware.engine.begin() as conn:
                await conn.exec_driver_sql(
                    "CREATE TABLE host_friendships (a VARCHAR(64), b VARCHAR(64))"
                )
                await conn.exec_driver_sql(
                    "INSERT INTO host_friendships VALUES ('parent', 'kid'), ('kid', 'parent')"
                )
            for account, band in BANDS.items():
                await runtime.bands.set(account, band=band)
            figures: dict[str, float] = {}
            for what, path, actor, frame in CASES:
                await _session(middleware, path, actor, frame)  # warm the caches
                figures[what] = median(
                    [await _session(middleware, path, actor, frame) for _ in range(ROUNDS)]
                )
                await runtime.decisions.flush()
        finally:
            await middleware.close()
    base_what = CASES[0][0]
    base = figures[base_what]
    rows = [Row(SECTION, f"per frame: {base_what}", f"{base * 1e6:.1f} µs")]
    for what, _, _, _ in CASES[1:]:
        cost = figures[what]
        rows.append(
            Row(
                SECTION,
                f"per frame: {what}",
                f"{cost * 1e6:.1f} µs (+{(cost - base) * 1e6:.1f} µs)",
            )
        )
    return rows


def run() -> list[Row]:
    return asyncio.run(_measure())
