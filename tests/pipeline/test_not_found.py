"""What a `hide` answers: the app's own answer for an id that does not exist, byte for byte."""

from __future__ import annotations

from typing import Any

import pytest

from safe_accounts.errors import ConfigurationError
from safe_accounts.pipeline.not_found import STARLETTE_ANSWER, compile_not_found
from safe_accounts.pipeline.request_view import RequestView
from safe_accounts.policy.model import NotFound


async def sent(answer: Any, view: RequestView) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await answer.send(send, view)
    return messages[0]["status"], messages[0]["headers"], messages[1]["body"]


VIEW = RequestView("GET", "/users/036", {"user_id": "036"}, [("id", "x\"y")], None)


async def test_starlettes_own_404_is_the_default() -> None:
    assert await sent(STARLETTE_ANSWER, VIEW) == (
        404,
        [(b"content-length", b"9"), (b"content-type", b"text/plain; charset=utf-8")],
        b"Not Found",
    )


async def test_a_body_naming_the_id_writes_it_as_the_app_reads_it() -> None:
    spec = NotFound(
        content_type="application/json", headers={"X-App": "1"}, body='{"detail":"User {path.user_id} not found"}'
    )
    status, headers, body = await sent(compile_not_found(spec, "/users/{user_id:int}"), VIEW)
    assert status == 404
    # An `int` path parameter: the app's message says 36, not 036.
    assert body == b'{"detail":"User 36 not found"}'
    length = str(len(body)).encode()
    assert headers == [(b"x-app", b"1"), (b"content-length", length), (b"content-type", b"application/json")]
    quoted = NotFound(content_type="application/json", body='{"detail":"{query.id}"}')
    _, _, body = await sent(compile_not_found(quoted, "/users/{user_id}"), VIEW)
    assert body == b'{"detail":"x\\"y"}'  # JSON-escaped in a JSON body


def test_a_body_naming_a_parameter_the_route_has_not_is_refused_at_start_up() -> None:
    with pytest.raises(ConfigurationError, match="no \\{uid\\}"):
        compile_not_found(NotFound(body="{path.uid}"), "/users/{user_id}")
