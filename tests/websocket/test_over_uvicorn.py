"""The same protections on the wire: the wrapped app served by uvicorn on a loopback port,
a real WebSocket client (`websockets`) on the other end."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from safe_accounts.policy.model import DEFAULT_RESTRICTED_NOTICE

from .conftest import Chat, free_socket, token

Serve = Callable[..., contextlib.AbstractAsyncContextManager[str]]


def _without_denial_extension(app: Any) -> Any:
    """The app as a server without the `websocket.http.response` extension would call it."""

    async def server(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            scope = {**scope, "extensions": {}}
        await app(scope, receive, send)

    return server


@pytest.fixture
def serve() -> Serve:
    @contextlib.asynccontextmanager
    async def serving(app: Any) -> AsyncIterator[str]:
        sock = free_socket()
        # The middleware is started (and closed) by the `chat` fixture: no lifespan here.
        config = uvicorn.Config(app, lifespan="off", log_level="warning", ws="websockets-sansio")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
            yield f"ws://127.0.0.1:{sock.getsockname()[1]}"
        finally:
            server.should_exit = True
            await task
            sock.close()

    return serving


def _open(url: str, account: str | None) -> connect:
    headers = {"Cookie": f"session={token(account)}"} if account else {}
    return connect(url, additional_headers=headers, proxy=None, open_timeout=5, close_timeout=2)


async def _receive_json(ws: ClientConnection) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


async def test_a_strangers_socket_to_a_child_gets_a_403_problem(chat: Chat, serve: Serve) -> None:
    async with serve(chat.middleware) as base:
        with pytest.raises(InvalidStatus) as refused:
            async with _open(f"{base}/ws/chat/kid", "adult"):
                pass
    response = refused.value.response
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert json.loads(response.body)["rule"] == "stranger-dm-to-minor"
    assert chat.host.connected == []


async def test_without_the_extension_the_refusal_is_a_close_before_accept(
    chat: Chat, serve: Serve
) -> None:
    # A close before accept is answered by the server with a bare 403: still never accepted.
    async with serve(_without_denial_extension(chat.middleware)) as base:
        with pytest.raises(InvalidStatus) as refused:
            async with _open(f"{base}/ws/chat/kid", "adult"):
                pass
    assert refused.value.response.status_code == 403
    assert b"stranger-dm-to-minor" not in (refused.value.response.body or b"")
    assert chat.host.connected == []


async def test_a_connected_adults_socket_is_accepted_and_its_frames_arrive(
    chat: Chat, serve: Serve
) -> None:
    async with serve(chat.middleware) as base, _open(f"{base}/ws/chat/kid", "parent") as ws:
        await ws.send("dinner is ready")
        assert (await _receive_json(ws))["type"] == "ack"
    assert chat.host.texts("chat-with") == ["dinner is ready"]


async def test_the_token_in_the_query_string_works_on_the_wire(chat: Chat, serve: Serve) -> None:
    async with (
        serve(chat.middleware) as base,
        _open(f"{base}/ws/chat/kid?token={token('parent')}", None) as ws,
    ):
        await ws.send("hello")
        assert (await _receive_json(ws))["type"] == "ack"


async def test_a_multiplexed_socket_drops_the_frame_to_a_child_and_delivers_the_next(
    chat: Chat, serve: Serve
) -> None:
    async with serve(chat.middleware) as base, _open(f"{base}/ws/inbox", "adult") as ws:
        await ws.send(json.dumps({"type": "message", "to": "kid", "text": "hi"}))
        notice = await _receive_json(ws)
        await ws.send(json.dumps({"type": "message", "to": "other-adult", "text": "hello"}))
        ack = await _receive_json(ws)
    assert (notice["type"], notice["rule"]) == ("safe_accounts.denied", "stranger-dm-to-minor")
    assert ack["type"] == "ack"
    assert chat.host.texts("inbox") == [
        json.dumps({"type": "message", "to": "other-adult", "text": "hello"})
    ]


async def test_a_sender_in_the_path_that_is_not_the_cookies_account_is_refused(
    chat: Chat, serve: Serve
) -> None:
    async with serve(chat.middleware) as base:
        with pytest.raises(InvalidStatus) as refused:
            async with _open(f"{base}/ws/users/parent/chat/other-adult", "adult"):
                pass
        async with _open(f"{base}/ws/users/adult/chat/other-adult", "adult") as ws:
            await ws.send("as myself")
            assert (await _receive_json(ws))["type"] == "ack"
    assert refused.value.response.status_code == 403
    assert json.loads(refused.value.response.body)["type"].endswith("/sender-mismatch")
    assert chat.host.connected == ["chat-as"]


async def test_a_restriction_raised_mid_connection_takes_effect_on_the_next_frame(
    chat: Chat, serve: Serve
) -> None:
    async with (
        serve(chat.middleware) as base,
        _open(f"{base}/ws/inbox", "parent") as inbox,
        _open(f"{base}/ws/chat/kid", "parent") as direct,
    ):
        await inbox.send(json.dumps({"type": "message", "to": "kid", "text": "before"}))
        assert (await _receive_json(inbox))["type"] == "ack"
        await chat.alerts.restrictions.restrict(
            "parent", reason="raised by a moderator during the test"
        )
        # The shared socket drops the frame to the child and says why ...
        await inbox.send(json.dumps({"type": "message", "to": "kid", "text": "after"}))
        notice = await _receive_json(inbox)
        assert (notice["rule"], notice["detail"]) == (None, DEFAULT_RESTRICTED_NOTICE)
        # ... and the socket to that one child is closed with 1008 on its next frame.
        await direct.send("after")
        with pytest.raises(ConnectionClosedError) as closed:
            await asyncio.wait_for(direct.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert chat.host.texts("chat-with") == []
    assert [t for t in chat.host.texts("inbox") if "after" in str(t)] == []
