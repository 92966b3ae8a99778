"""The frame filter: on a socket that carries many conversations, a denied frame never
reaches the app, and the frames around it still do."""

from __future__ import annotations

from typing import Any

import pytest

from safe_accounts.policy.model import DEFAULT_RESTRICTED_NOTICE

from .conftest import Chat, cookie
from .inprocess import Session, connect

NOTICE = "safe_accounts.denied"


async def _accepted(ws: Session) -> None:
    assert (await ws.next())["type"] == "websocket.accept"


async def test_a_frame_to_a_child_stranger_is_dropped_and_the_next_frame_to_an_adult_arrives(
    chat: Chat,
) -> None:
    async with connect(chat.middleware, "/ws/inbox", cookie("adult")) as ws:
        await _accepted(ws)
        await ws.send_json({"type": "message", "to": "kid", "text": "hi"})
        notice = await ws.next_json()
        await ws.send_json({"type": "message", "to": "other-adult", "text": "hello"})
        ack = await ws.next_json()
    assert notice["type"] == NOTICE
    assert notice["rule"] == "stranger-dm-to-minor"
    assert (
        notice["detail"] == "This account only accepts messages from people it is connected with."
    )
    assert ack["type"] == "ack"
    assert chat.host.texts("inbox") == ['{"type":"message","to":"other-adult","text":"hello"}']
    [row] = await chat.decisions()
    assert row["id"] == notice["decision_id"]
    assert (row["route"], row["action"], row["target_id"], row["status"]) == (
        "inbox",
        "direct_message",
        "kid",
        403,
    )


async def test_a_connected_parent_messages_their_child_over_the_shared_socket(chat: Chat) -> None:
    async with connect(chat.middleware, "/ws/inbox", cookie("parent")) as ws:
        await _accepted(ws)
        await ws.send_json({"type": "message", "to": "kid", "text": "dinner"})
        assert (await ws.next_json())["type"] == "ack"
    assert len(chat.host.texts("inbox")) == 1


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "message", "recipients": ["other-adult", "kid"]},
        {"type": "MESSAGE", "to": "kid"},
        {"type": " message ", "to": {"id": "kid"}},
        '{"type": "message", "to": "other-adult", "to": "kid"}',
        '{"type": "message", "type": "presence", "to": "kid"}',
        {"type": "message", "to": "young", "text": "x" * 10_000},
        '{"type": "message", "to": "other-adult", "\\u0074o": "kid"}',
        '{"type": "message", "\\u0074o": "kid", "to": "other-adult"}',
        '{"type": "message", "to": "other-adult", "text": "say \\"hi\\"", "to": "kid"}',
        '{"type": "message", "to": 7e0, "to": "kid", "n": NaN}',
        [{"type": "message", "to": "other-adult"}, {"type": "message", "to": "kid"}],
        '{"type": "message", "to": {"id": "other-adult", "id": "kid"}}',
    ],
    ids=[
        "recipient-list",
        "kind-case",
        "padded-kind-and-id-object",
        "duplicate-to",
        "duplicate-type",
        "long",
        "escaped-duplicate-last",
        "escaped-duplicate-first",
        "escapes-elsewhere",
        "nan",
        "batch-array",
        "duplicate-id-in-object",
    ],
)
async def test_the_recipient_cannot_hide_in_another_shape(chat: Chat, frame: Any) -> None:
    async with connect(chat.middleware, "/ws/inbox", cookie("adult")) as ws:
        await _accepted(ws)
        await (ws.send_text(frame) if isinstance(frame, str) else ws.send_json(frame))
        assert (await ws.next_json())["type"] == NOTICE
    assert chat.host.texts("inbox") == []


async def test_a_binary_frame_holding_json_is_checked_like_a_text_frame(chat: Chat) -> None:
    async with connect(chat.middleware, "/ws/inbox", cookie("adult")) as ws:
        await _accepted(ws)
        await ws.send_bytes(b'{"type": "message", "to": "kid"}')
        assert (await ws.next_json())["rule"] == "stranger-dm-to-minor"
    assert chat.host.texts("inbox") == []


async def test_frames_the_filter_does_not_classify_pass_through(chat: Chat) -> None:
    async with connect(chat.middleware, "/ws/inbox", cookie("adult")) as ws:
        await _accepted(ws)
        await ws.send_json({"type": "typing", "to": "kid"})
        assert (await ws.next_json())["type"] == "ack"
        await ws.send_json(["not", "an", "object"])
        assert (await ws.next_json())["type"] == "ack"
    assert len(chat.host.texts("inbox")) == 2
    assert await chat.decisions() == []


async def test_a_frame_speaking_as_another_account_is_dropped(chat: Chat) -> None:
    async with connect(chat.middleware, "/ws/inbox", cookie("adult")) as ws:
        await _accepted(ws)
        await ws.send_json({"type": "message", "from": "parent", "to": "other-adult"})
        notice = await ws.next_json()
        await ws.send_json({"type": "message", "from": "adult", "to": "other-adult"})
        assert (await ws.next_json())["type"] == "ack"
    assert notice["type"] == NOTICE
    assert notice["rule"] is None
    assert "signed in" in notice["detail"]
    assert chat.host.texts("inbox") == ['{"type":"message","from":"adult","to":"other-adult"}']


async def test_a_frame_that_is_not_json_is_dropped_with_a_notice_by_default(chat: Chat) -> None:
    async with connect(chat.middleware, "/ws/inbox", cookie("adult")) as ws:
        await _accepted(ws)
        await ws.send_text("to=kid&text=hi")
        notice = await ws.next_json()
        await ws.send_bytes(b"\xff\xfe\x00binary")
        assert (await ws.next_json())["type"] == NOTICE
    assert notice == {"type": NOTICE, "rule": None, "decision_id": None, "detail": notice["detail"]}
    assert chat.host.texts("inbox") == []


async def test_a_policy_can_let_unparseable_frames_through(chat: Chat) -> None:
    async with connect(chat.middleware, "/ws/lenient", cookie("adult")) as ws:
        await _accepted(ws)
        await ws.send_text("plain words")
        assert (await ws.next_json())["type"] == "ack"
        await ws.send_json({"type": "message", "to": "kid"})
        assert (await ws.next_json())["type"] == NOTICE
    assert chat.host.texts("inbox-lenient") == ["plain words"]


@pytest.mark.parametrize("send", ["denied", "unparseable"])
async def test_a_strict_socket_closes_with_1008_and_the_app_sees_a_disconnect(
    chat: Chat, send: str
) -> None:
    async with connect(chat.middleware, "/ws/strict", cookie("adult")) as ws:
        await _accepted(ws)
        if send == "denied":
            await ws.send_json({"type": "message", "to": "kid"})
        else:
            await ws.send_text("not json")
        close = await ws.next()
    assert close["type"] == "websocket.close"
    assert close["code"] == 1008
    assert chat.host.texts("inbox-strict") == []


async def test_a_contact_request_frame_follows_the_contact_request_rules(chat: Chat) -> None:
    # The baseline only monitors stranger requests to children: delivered, and logged.
    async with connect(chat.middleware, "/ws/inbox", cookie("adult")) as ws:
        await _accepted(ws)
        await ws.send_json({"type": "friend_request", "to": "kid"})
        assert (await ws.next_json())["type"] == "ack"
    [row] = await chat.decisions()
    assert (row["action"], row["rule"], row["mode"]) == (
        "contact_request",
        "stranger-request-to-minor",
        "monitor",
    )


async def test_a_restriction_raised_mid_connection_stops_the_next_frame_to_a_minor(
    chat: Chat,
) -> None:
    async with connect(chat.middleware, "/ws/inbox", cookie("parent")) as ws:
        await _accepted(ws)
        await ws.send_json({"type": "message", "to": "kid", "text": "before"})
        assert (await ws.next_json())["type"] == "ack"
        await chat.alerts.restrictions.restrict(
            "parent", reason="raised by a moderator during the test"
        )
        await ws.send_json({"type": "message", "to": "kid", "text": "after"})
        notice = await ws.next_json()
        await ws.send_json({"type": "message", "to": "other-adult", "text": "adults still"})
        assert (await ws.next_json())["type"] == "ack"
    assert (notice["rule"], notice["detail"]) == (None, DEFAULT_RESTRICTED_NOTICE)
    assert [t for t in chat.host.texts("inbox") if "kid" in str(t)] == [
        '{"type":"message","to":"kid","text":"before"}'
    ]


async def test_a_socket_to_one_peer_is_closed_when_its_account_is_restricted(chat: Chat) -> None:
    async with connect(chat.middleware, "/ws/chat/kid", cookie("parent")) as ws:
        await _accepted(ws)
        await ws.send_text("before")
        assert (await ws.next_json())["type"] == "ack"
        await chat.alerts.restrictions.restrict(
            "parent", reason="raised by a moderator during the test"
        )
        await ws.send_text("after")
        close = await ws.next()
    assert (close["type"], close["code"]) == ("websocket.close", 1008)
    assert chat.host.texts("chat-with") == ["before"]


async def test_dropped_frames_to_three_children_raise_a_grooming_alert(chat: Chat) -> None:
    async with connect(chat.middleware, "/ws/inbox", cookie("adult")) as ws:
        await _accepted(ws)
        for child in ("kid", "young", "teen"):
            await ws.send_json({"type": "message", "to": child})
            assert (await ws.next_json())["type"] == NOTICE
    await chat.middleware.drain()
    assert [(a.subject, a.signal) for a in await chat.alerts.service.list()] == [
        ("adult", "denied-dms-to-minors")
    ]
