"""Over WebSocket too, monitor mode never changes what the client gets when a store fails
(issue 13, class 6): the handshake is accepted and frames are delivered, as without us.
Under enforcement the same failures still close the socket or drop the frame (1013)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import KEY, KEY_ENV, POLICY, Chat, cookie
from .inprocess import connect

# The host's friendships table is gone: every relationship lookup fails.
BROKEN = POLICY.replace("host_friendships", "host_friendships_gone")


@pytest.fixture(params=["monitor", "enforce"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> Path:
    monkeypatch.setenv(KEY_ENV, KEY)
    path = tmp_path / "chat-policy.yaml"
    path.write_text(BROKEN.replace("extends: baseline\n", f"extends: baseline\nmode: {mode}\n", 1))
    return path


async def test_a_handshake_whose_peer_lookup_fails(chat: Chat, mode: str) -> None:
    async with connect(chat.middleware, "/ws/broken/down", cookie("adult")) as ws:
        first = await ws.next()
    if mode == "monitor":
        assert first["type"] == "websocket.accept"
        assert chat.host.connected == ["broken-lookup"]
    else:
        assert (first["type"], first["code"]) == ("websocket.close", 1013)
        assert chat.host.connected == []


async def test_a_handshake_whose_relationship_lookup_fails(chat: Chat, mode: str) -> None:
    async with connect(chat.middleware, "/ws/chat/kid", cookie("adult")) as ws:
        first = await ws.next()
        if mode == "monitor":
            await ws.send_json({"text": "hi"})
            ack = await ws.next_json()
    if mode == "monitor":
        assert first["type"] == "websocket.accept"
        assert ack["type"] == "ack"
        assert chat.host.texts("chat-with") == ['{"text":"hi"}']
    else:
        assert (first["type"], first["code"]) == ("websocket.close", 1013)
        assert chat.host.connected == []


async def test_a_frame_whose_relationship_lookup_fails(chat: Chat, mode: str) -> None:
    async with connect(chat.middleware, "/ws/inbox", cookie("adult")) as ws:
        assert (await ws.next())["type"] == "websocket.accept"
        await ws.send_json({"type": "message", "to": "kid", "text": "hi"})
        answer = await ws.next_json()
    if mode == "monitor":
        assert answer["type"] == "ack"
        assert chat.host.texts("inbox") == ['{"type":"message","to":"kid","text":"hi"}']
    else:
        assert answer["type"] == "safe_accounts.denied"
        assert answer["detail"] == "A safety check could not be completed. Please try again shortly."
        assert chat.host.texts("inbox") == []
