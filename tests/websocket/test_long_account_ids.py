"""Over WebSocket as over HTTP (`tests/middleware/test_long_account_ids.py`): an account id
longer than our tables keep, as the actor or as a peer the handshake or a frame names, is
refused as unreadable before any store is read, and leaves nothing in our tables."""

from __future__ import annotations

import orjson

from safe_accounts.db.metadata import ACCOUNT_ID_LENGTH
from safe_accounts.pipeline import problem

from .conftest import Chat, cookie
from .inprocess import DENIAL, connect

LONG = "a" * (ACCOUNT_ID_LENGTH + 1)


async def _problem_type(chat: Chat, path: str, actor: str) -> tuple[int, str]:
    async with connect(chat.middleware, path, cookie(actor), extensions=DENIAL) as ws:
        start = await ws.next()
        document = orjson.loads((await ws.next())["body"])
    return start["status"], document["type"]


async def test_a_socket_whose_actor_we_cannot_keep_is_refused_before_it_opens(chat: Chat) -> None:
    assert await _problem_type(chat, "/ws/chat/other-adult", LONG) == (
        400, problem.PROBLEM_BASE + "unreadable-actor",
    )
    async with connect(chat.middleware, "/ws/chat/other-adult", cookie(LONG)) as ws:
        assert (await ws.next())["code"] == 1008  # a refusal, not try-again
    assert chat.host.connected == []
    assert await chat.decisions() == []


async def test_a_socket_to_a_peer_we_cannot_keep_is_an_unreadable_target(chat: Chat) -> None:
    assert await _problem_type(chat, f"/ws/chat/{LONG}", "adult") == (
        400, problem.PROBLEM_BASE + "unreadable-target",
    )
    assert chat.host.connected == []
    assert await chat.decisions() == []


async def test_a_frame_to_a_recipient_we_cannot_keep_is_dropped(chat: Chat) -> None:
    async with connect(chat.middleware, "/ws/inbox", cookie("adult")) as ws:
        assert (await ws.next())["type"] == "websocket.accept"
        await ws.send_json({"type": "message", "to": LONG, "text": "hi"})
        notice = await ws.next_json()
        await ws.send_json({"type": "message", "to": "other-adult", "text": "hello"})
        ack = await ws.next_json()
    assert notice["type"] == "safe_accounts.denied"
    assert ack["type"] == "ack"
    assert chat.host.texts("inbox") == ['{"type":"message","to":"other-adult","text":"hello"}']
    assert await chat.decisions() == []
