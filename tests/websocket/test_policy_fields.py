"""The policy's WebSocket fields: checked at load with file and line, compiled once."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from safe_accounts import Action, PolicyError
from safe_accounts.pipeline.compiled import CompiledPolicy
from safe_accounts.policy.loader import load_policy

from .conftest import POLICY


def _load(tmp_path: Path, routes: str) -> PolicyError:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "version: 1\nname: x\nroutes:\n" + textwrap.indent(textwrap.dedent(routes), "  ")
    )
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    return info.value


@pytest.mark.parametrize(
    ("routes", "line", "reason"),
    [
        (
            """\
            - method: POST
              path: /api/x
              action: direct_message
              frames: {actions: {message: direct_message}, recipient: to}
            """,
            4,
            "apply only to `method: WEBSOCKET` routes",
        ),
        (
            """\
            - method: WEBSOCKET
              path: /ws/{me}
              action: direct_message
              sender: path.you
            """,
            4,
            "has no {you} parameter",
        ),
        (
            """\
            - method: WEBSOCKET
              path: /ws
              action: direct_message
              sender: json.from
            """,
            7,
            "sender",
        ),
        (
            """\
            - method: WEBSOCKET
              path: /ws
              action: direct_message
              targets: [{json: to}]
            """,
            4,
            "a WebSocket handshake has no body",
        ),
        (
            """\
            - method: [GET, WEBSOCKET]
              path: /ws
              action: direct_message
            """,
            4,
            "cannot also list HTTP methods",
        ),
        (
            """\
            - method: WEBSOCKET
              path: /ws
              action: direct_message
              frames:
                actions: {message: send_money}
                recipient: to
            """,
            8,
            "got 'send_money'",
        ),
        (
            """\
            - method: WEBSOCKET
              path: /ws
              action: direct_message
              frames:
                actions: {message: direct_message}
                recipient: ["to", "recipients[x"]
            """,
            9,
            "JSON path 'recipients[x'",
        ),
        (
            """\
            - method: WEBSOCKET
              path: /ws
              action: direct_message
              frames:
                actions: {message: direct_message}
                recipient: to
                on_unparseable: ignore
            """,
            10,
            "drop_notice, close, pass",
        ),
    ],
    ids=[
        "frames-on-http",
        "sender-not-in-template",
        "sender-not-path-or-query",
        "body-target",
        "mixed-methods",
        "unknown-action",
        "bad-json-path",
        "bad-on-unparseable",
    ],
)
def test_a_bad_websocket_route_stops_start_up_with_file_line_and_reason(
    tmp_path: Path, routes: str, line: int, reason: str
) -> None:
    error = _load(tmp_path, routes)
    assert any(p.line == line and reason in p.reason for p in error.problems), [
        str(p) for p in error.problems
    ]


def test_websocket_routes_compile_into_the_route_list_with_their_method(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .conftest import KEY, KEY_ENV

    monkeypatch.setenv(KEY_ENV, KEY)
    path = tmp_path / "chat.yaml"
    path.write_text(POLICY)
    loaded = load_policy(path)
    compiled = CompiledPolicy(loaded.policy, loaded.version)
    sockets = {r.name: r for r in compiled.routes if r.methods == ("WEBSOCKET",)}
    assert set(sockets) == {
        "chat-with",
        "chat-as",
        "room",
        "dm-query",
        "broken-lookup",
        "inbox",
        "inbox-strict",
        "inbox-lenient",
    }
    inbox = sockets["inbox"].frames
    assert inbox is not None
    assert dict(inbox.actions) == {
        "message": Action.DIRECT_MESSAGE,
        "friend_request": Action.CONTACT_REQUEST,
    }
    assert inbox.rules[Action.DIRECT_MESSAGE] is compiled.rules[Action.DIRECT_MESSAGE]
    assert (inbox.close_on_deny, inbox.on_unparseable) == (False, "drop_notice")
    assert (
        sockets["inbox-strict"].frames is not None and sockets["inbox-strict"].frames.close_on_deny
    )
    assert sockets["chat-as"].sender is not None and sockets["chat-with"].sender is None
    assert compiled.table.match("WEBSOCKET", "/ws/chat/kid") is not None
    assert compiled.table.match("GET", "/ws/chat/kid") is None
