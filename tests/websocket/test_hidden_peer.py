"""A socket to a hidden peer answers the route's `not_found`, as an HTTP request does
(issue 13, class 4), where the server lets a handshake be answered with HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import KEY, KEY_ENV, POLICY, Chat, cookie
from .inprocess import DENIAL, connect

# Under-13 peers are hidden from everyone they are not connected with (instead of the
# baseline's denial), and the route says what the app answers for a peer it does not know.
HIDING = POLICY.replace(
    "    targets: [{path: peer}]\n  - name: chat-as",
    "    targets: [{path: peer}]\n"
    "    not_found: {status: 404, content_type: application/json, body: '{\"error\":\"no such peer\"}'}\n"
    "  - name: chat-as",
    1,
) + """
rules:
  - {id: stranger-dm-to-minor, enabled: false}
  - id: hide-young-peers
    action: direct_message
    when: {target_band: [under_13], connected: false}
    then: hide
    reason: Under-13s are not there for people they are not connected with.
"""


@pytest.fixture
def policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(KEY_ENV, KEY)
    assert "no such peer" in HIDING
    path = tmp_path / "chat-policy.yaml"
    path.write_text(HIDING)
    return path


async def test_the_handshake_to_a_hidden_peer_is_answered_with_the_routes_not_found(chat: Chat) -> None:
    async with connect(chat.middleware, "/ws/chat/young", cookie("adult"), extensions=DENIAL) as ws:
        start = await ws.next()
        body = await ws.next()
    assert (start["type"], start["status"]) == ("websocket.http.response.start", 404)
    assert start["headers"] == [(b"content-length", b"24"), (b"content-type", b"application/json")]
    assert (body["type"], body["body"]) == ("websocket.http.response.body", b'{"error":"no such peer"}')
    assert chat.host.connected == []
    [row] = await chat.decisions()
    assert (row["rule"], row["outcome"], row["target_id"]) == ("hide-young-peers", "hide", "young")


async def test_without_the_extension_the_socket_is_closed_before_it_is_accepted(chat: Chat) -> None:
    async with connect(chat.middleware, "/ws/chat/young", cookie("adult")) as ws:
        close = await ws.next()
    assert (close["type"], close["code"], close["reason"]) == ("websocket.close", 1008, "Not Found")
    assert chat.host.connected == []
