"""The handshake: a protected pairing is refused before the app ever sees the socket."""

from __future__ import annotations

import orjson
import pytest

from safe_accounts.pipeline import problem

from .conftest import Chat, cookie, token
from .inprocess import DENIAL, connect


async def test_a_strangers_socket_to_a_child_is_closed_with_1008_before_it_is_accepted(
    chat: Chat,
) -> None:
    async with connect(chat.middleware, "/ws/chat/kid", cookie("adult")) as ws:
        close = await ws.next()
    assert close["type"] == "websocket.close"
    assert close["code"] == 1008
    assert close["reason"].startswith("Not allowed; decision ")
    assert len(close["reason"].encode()) <= 123
    assert chat.host.connected == []


async def test_where_the_server_allows_it_the_refusal_is_a_403_problem(chat: Chat) -> None:
    async with connect(chat.middleware, "/ws/chat/kid", cookie("adult"), extensions=DENIAL) as ws:
        start = await ws.next()
        body = await ws.next()
    assert start["type"] == "websocket.http.response.start"
    assert start["status"] == 403
    headers = dict(start["headers"])
    assert headers[b"content-type"] == problem.MEDIA_TYPE
    assert body["type"] == "websocket.http.response.body"
    document = orjson.loads(body["body"])
    assert document["type"] == problem.PROBLEM_BASE + "denied"
    assert document["rule"] == "stranger-dm-to-minor"
    assert headers[problem.DECISION_HEADER] == document["decision_id"].encode()
    # The refusal never says the peer is a child.
    assert b"kid" not in body["body"] and b"13_15" not in body["body"]
    assert chat.host.connected == []


async def test_the_refusal_is_in_the_decision_log_like_an_http_refusal(chat: Chat) -> None:
    async with connect(chat.middleware, "/ws/chat/kid", cookie("adult"), extensions=DENIAL) as ws:
        await ws.next()
        document = orjson.loads((await ws.next())["body"])
    [row] = await chat.decisions()
    assert row["id"] == document["decision_id"]
    assert (row["action"], row["rule"], row["route"], row["status"]) == (
        "direct_message",
        "stranger-dm-to-minor",
        "chat-with",
        403,
    )
    assert (row["actor_id"], row["target_id"], row["target_band"]) == ("adult", "kid", "13_15")


async def test_a_connected_adults_socket_is_accepted_and_its_frames_arrive(chat: Chat) -> None:
    async with connect(chat.middleware, "/ws/chat/kid", cookie("parent")) as ws:
        assert (await ws.next())["type"] == "websocket.accept"
        await ws.send_text("dinner is ready")
        assert (await ws.next_json())["type"] == "ack"
    assert chat.host.connected == ["chat-with"]
    assert chat.host.texts("chat-with") == ["dinner is ready"]


async def test_adults_open_sockets_to_adults(chat: Chat) -> None:
    async with connect(chat.middleware, "/ws/chat/other-adult", cookie("adult")) as ws:
        assert (await ws.next())["type"] == "websocket.accept"
    assert await chat.decisions() == []


async def test_an_anonymous_socket_to_a_child_is_refused(chat: Chat) -> None:
    async with connect(chat.middleware, "/ws/chat/kid") as ws:
        assert (await ws.next())["code"] == 1008
    assert chat.host.connected == []


@pytest.mark.parametrize(
    "spelling",
    ["/ws/chat/kid/", "/ws//chat/kid", "/WS/chat/kid", "/ws/chat/%6Bid", "/ws/x/../chat/kid"],
)
async def test_another_spelling_of_the_path_is_refused_too(chat: Chat, spelling: str) -> None:
    async with connect(chat.middleware, spelling, cookie("adult")) as ws:
        assert (await ws.next())["code"] == 1008
    assert chat.host.connected == []


async def test_the_token_can_come_in_the_query_string(chat: Chat) -> None:
    async with connect(chat.middleware, "/ws/chat/kid", query=f"token={token('parent')}") as ws:
        assert (await ws.next())["type"] == "websocket.accept"
    async with connect(chat.middleware, "/ws/chat/kid", query=f"token={token('adult')}") as ws:
        assert (await ws.next())["code"] == 1008
    assert chat.host.connected == ["chat-with"]


async def test_a_token_signed_with_another_key_names_nobody(chat: Chat) -> None:
    forged = token("parent", key="not-the-key-but-just-as-long-as-it!")
    async with connect(
        chat.middleware, "/ws/chat/kid", [(b"cookie", f"session={forged}".encode())]
    ) as ws:
        assert (await ws.next())["code"] == 1008
    assert chat.host.connected == []


async def test_an_expired_token_names_nobody(chat: Chat) -> None:
    expired = token("parent", lifetime=-60)
    async with connect(
        chat.middleware, "/ws/chat/kid", [(b"cookie", f"session={expired}".encode())]
    ) as ws:
        assert (await ws.next())["code"] == 1008
    assert chat.host.connected == []


async def test_a_store_that_fails_refuses_the_socket_with_try_again_later(chat: Chat) -> None:
    async with connect(chat.middleware, "/ws/broken/down", cookie("adult")) as ws:
        assert (await ws.next())["code"] == 1013
    async with connect(
        chat.middleware, "/ws/broken/down", cookie("adult"), extensions=DENIAL
    ) as ws:
        start = await ws.next()
        document = orjson.loads((await ws.next())["body"])
    assert start["status"] == 503
    assert document["type"] == problem.PROBLEM_BASE + "unavailable"
    assert chat.host.connected == []


async def test_a_fault_in_the_check_never_opens_the_socket(chat: Chat) -> None:
    async with connect(chat.middleware, "/ws/broken/bug", cookie("adult")) as ws:
        assert (await ws.next())["code"] == 1011
    assert chat.host.connected == []


async def test_a_sender_in_the_path_other_than_the_cookies_account_is_refused(chat: Chat) -> None:
    # Speaking as the child's parent, to an adult: no rule is about the pair, the lie is enough.
    async with connect(
        chat.middleware, "/ws/users/parent/chat/other-adult", cookie("adult"), extensions=DENIAL
    ) as ws:
        start = await ws.next()
        document = orjson.loads((await ws.next())["body"])
    assert start["status"] == 403
    assert document["type"] == problem.PROBLEM_BASE + "sender-mismatch"
    async with connect(chat.middleware, "/ws/users/parent/chat/other-adult", cookie("adult")) as ws:
        assert (await ws.next())["code"] == 1008
    async with connect(chat.middleware, "/ws/users/adult/chat/other-adult", cookie("adult")) as ws:
        assert (await ws.next())["type"] == "websocket.accept"
    assert chat.host.connected == ["chat-as"]


async def test_a_sender_named_without_any_identity_is_refused(chat: Chat) -> None:
    async with connect(chat.middleware, "/ws/users/adult/chat/other-adult") as ws:
        assert (await ws.next())["code"] == 1008
    assert chat.host.connected == []


async def test_a_sender_and_a_peer_in_the_query_string(chat: Chat) -> None:
    async with connect(
        chat.middleware, "/ws/dm", cookie("adult"), query="to=other-adult&from=parent"
    ) as ws:
        assert (await ws.next())["code"] == 1008
    async with connect(chat.middleware, "/ws/dm", cookie("adult"), query="to=kid&from=adult") as ws:
        assert (await ws.next())["code"] == 1008
    async with connect(
        chat.middleware, "/ws/dm", cookie("adult"), query="to=other-adult&from=adult"
    ) as ws:
        assert (await ws.next())["type"] == "websocket.accept"
    assert chat.host.connected == ["dm-query"]


async def test_a_room_resolved_by_a_sql_lookup(chat: Chat) -> None:
    # c-stranger holds `adult` and `kid`; c-family holds `parent` and `kid`.
    async with connect(chat.middleware, "/ws/rooms/c-stranger", cookie("adult")) as ws:
        assert (await ws.next())["code"] == 1008
    async with connect(chat.middleware, "/ws/rooms/c-family", cookie("parent")) as ws:
        assert (await ws.next())["type"] == "websocket.accept"
    assert chat.host.connected == ["room"]


async def test_refused_sockets_to_three_children_raise_a_grooming_alert(chat: Chat) -> None:
    for child in ("kid", "young", "teen"):
        async with connect(chat.middleware, f"/ws/chat/{child}", cookie("adult")) as ws:
            assert (await ws.next())["code"] == 1008
    await chat.middleware.drain()
    assert [(a.subject, a.signal) for a in await chat.alerts.service.list()] == [
        ("adult", "denied-dms-to-minors")
    ]


async def test_a_socket_the_policy_does_not_list_reaches_the_app_untouched(chat: Chat) -> None:
    async with connect(chat.middleware, "/ws/unlisted") as ws:
        assert (await ws.next())["type"] == "websocket.accept"
        await ws.send_text("anything")
        assert (await ws.next_json())["type"] == "ack"
    assert chat.host.texts("unlisted") == ["anything"]
