"""The app's answer on a route whose answer we read: held until read as a client reads it,
rewritten as plain JSON, or passed as the app sent it; refused when it cannot be read and an
enforced rule would change it."""

from __future__ import annotations

import gzip
import json
from types import SimpleNamespace
from typing import Any

import pytest

from safe_accounts.pipeline import capture as capture_module
from safe_accounts.pipeline.capture import ResponseCapture, Unreadable, for_reading


class Client:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.messages[0]["headers"])

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages[1:])


async def drop_kid(document: Any, status: int) -> tuple[Any, list[tuple[bytes, bytes]]] | None:
    document["results"] = [r for r in document["results"] if r["id"] != "kid"]
    return document, [(b"x-filtered", b"1")]


async def answer(capture: ResponseCapture, status: int, body: bytes, *headers: tuple[bytes, bytes]) -> None:
    await capture.send({"type": "http.response.start", "status": status, "headers": list(headers)})
    half = len(body) // 2
    await capture.send({"type": "http.response.body", "body": body[:half], "more_body": True})
    await capture.send({"type": "http.response.body", "body": body[half:], "more_body": False})


PAGE = json.dumps({"results": [{"id": "kid"}, {"id": "adult"}]}).encode()


async def test_a_json_answer_in_chunks_is_rewritten_with_its_own_length() -> None:
    client = Client()
    capture = ResponseCapture(client.send, drop_kid, strict=True)
    await answer(capture, 200, gzip.compress(PAGE), (b"content-encoding", b"gzip"), (b"content-length", b"99"))
    assert json.loads(client.body) == {"results": [{"id": "adult"}]}
    assert client.headers[b"content-length"] == str(len(client.body)).encode()
    assert b"content-encoding" not in client.headers and client.headers[b"x-filtered"] == b"1"
    assert capture.miss is None and capture.status == 200


async def test_an_answer_outside_2xx_passes_as_the_app_sent_it() -> None:
    client = Client()
    await answer(ResponseCapture(client.send, drop_kid, strict=True), 404, b"Not Found")
    assert (client.status, client.body) == (404, b"Not Found")


async def test_an_unreadable_answer_is_refused_where_an_enforced_rule_would_change_it() -> None:
    strict, lenient = Client(), Client()
    refused = ResponseCapture(strict.send, drop_kid, strict=True)
    await answer(refused, 200, b"<html>kid</html>", (b"content-type", b"text/html"))
    assert strict.status == 502 and b"unreadable-response" in strict.body and refused.miss is not None
    # Only monitor rules (or an answer read for the records): passed as it was, and counted.
    passed = ResponseCapture(lenient.send, drop_kid, strict=False)
    await answer(passed, 200, b"<html>kid</html>", (b"content-type", b"text/html"))
    assert (lenient.status, lenient.body) == (200, b"<html>kid</html>") and passed.miss is not None


@pytest.mark.parametrize(
    "body",
    [
        b'{"results": [{"id": "kid"}], "results": []}',
        b'{"results": [{"id": "kid", "id": "adult"}]}',
        b'{"results": [{"id": "kid", "\\u0069d": "adult"}]}',
        # Compact, as orjson and Starlette write: only a key written twice makes it differ.
        b'{"results":[{"id":"kid"}],"results":[]}',
        b'{"results":[{"id":"kid","id":"adult"}]}',
        # Nested deeper than orjson writes.
        b'{"results":[{"id":"kid","id":"adult","deep":' + b"[" * 300 + b"]" * 300 + b"}]}",
    ],
    ids=["list-twice", "id-twice", "id-twice-escaped", "compact-list-twice", "compact-id-twice", "deep"],
)
async def test_a_key_written_twice_is_refused_where_an_enforced_rule_would_change_the_answer(body: bytes) -> None:
    strict, lenient = Client(), Client()
    refused = ResponseCapture(strict.send, drop_kid, strict=True)
    await answer(refused, 200, body)
    assert strict.status == 502 and refused.miss == "response writes a key twice in one object"
    # Monitor rules only: read as orjson reads it (the last value), as before.
    passed = ResponseCapture(lenient.send, drop_kid, strict=False)
    await answer(passed, 200, body)
    assert lenient.status == 200 and passed.miss is None


async def test_an_answer_written_as_orjson_writes_it_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Starlette's and FastAPI's answers are compact JSON: written back by orjson they are the
    # app's very bytes, which proves no key was written twice without the slow second reading.
    def second_reading(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("parsed a second time")

    monkeypatch.setattr(capture_module, "json", SimpleNamespace(loads=second_reading))
    client = Client()
    compact = b'{"results":[{"id":"kid","name":"Zo\xc3\xab"},{"id":"adult"}]}'
    await answer(ResponseCapture(client.send, drop_kid, strict=True), 200, compact)
    assert client.status == 200 and json.loads(client.body) == {"results": [{"id": "adult"}]}


async def test_an_answer_nested_deeper_than_orjson_writes_is_still_rewritten() -> None:
    client = Client()
    deep = b'{"results":[{"id":"kid"},{"id":"adult","deep":' + b"[" * 300 + b"]" * 300 + b"}]}"
    await answer(ResponseCapture(client.send, drop_kid, strict=True), 200, deep)
    assert client.status == 200 and json.loads(client.body) == {"results": [json.loads(deep)["results"][1]]}


async def test_an_answer_that_cannot_be_written_back_is_a_miss() -> None:
    async def unwritable(document: Any, status: int) -> tuple[Any, list[tuple[bytes, bytes]]]:
        return {"results": [{1, 2}]}, []  # nothing JSON can write

    strict, lenient = Client(), Client()
    refused = ResponseCapture(strict.send, unwritable, strict=True)
    await answer(refused, 200, PAGE)
    assert strict.status == 502 and refused.miss == "response could not be written back"
    passed = ResponseCapture(lenient.send, unwritable, strict=False)
    await answer(passed, 200, PAGE)
    assert (lenient.status, lenient.body) == (200, PAGE)


async def test_a_rewrite_that_finds_the_answer_unreadable_is_a_miss() -> None:
    async def astray(document: Any, status: int) -> None:
        raise Unreadable("response does not hold its list where the policy says")

    strict, lenient = Client(), Client()
    refused = ResponseCapture(strict.send, astray, strict=True)
    await answer(refused, 200, PAGE)
    assert strict.status == 502 and refused.miss == "response does not hold its list where the policy says"
    passed = ResponseCapture(lenient.send, astray, strict=False)
    await answer(passed, 200, PAGE)
    assert (lenient.status, lenient.body) == (200, PAGE) and passed.miss is not None


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32-le"])
async def test_an_answer_read_in_utf16_or_utf32_is_rewritten_in_it(encoding: str) -> None:
    client = Client()
    capture = ResponseCapture(client.send, drop_kid, strict=True)
    typed = (b"content-type", f"application/json; charset={encoding}".encode())
    await answer(capture, 200, PAGE.decode().encode(encoding), typed)
    assert json.loads(client.body.decode(encoding)) == {"results": [{"id": "adult"}]}
    assert client.headers[b"content-length"] == str(len(client.body)).encode()


async def test_a_lone_surrogate_is_written_back_as_the_app_escaped_it() -> None:
    client = Client()
    capture = ResponseCapture(client.send, drop_kid, strict=True)
    await answer(capture, 200, b'{"results": [{"id": "kid"}, {"id": "adult", "name": "Ann\\ud83d"}]}')
    assert client.status == 200
    assert client.body == b'{"results":[{"id":"adult","name":"Ann\\ud83d"}]}'


async def test_the_apps_trailers_follow_its_own_bytes_and_never_a_rewritten_body() -> None:
    async def keep(document: Any, status: int) -> None:
        return None

    trailers = {"type": "http.response.trailers", "headers": [(b"content-digest", b"sha-256=:x:")]}
    for rewrite, promised in ((keep, True), (drop_kid, False)):
        client = Client()
        capture = ResponseCapture(client.send, rewrite, strict=True)
        await capture.send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await capture.send({"type": "http.response.body", "body": PAGE, "more_body": False})
        await capture.send(trailers)
        # A server told to expect trailers waits for them; one told not to gets none.
        assert client.messages[0].get("trailers") is promised
        assert (trailers in client.messages) is promised


async def test_a_rewrite_that_fails_closed_answers_503() -> None:
    async def store_down(document: Any, status: int) -> None:
        raise RuntimeError("band store down")

    client = Client()
    capture = ResponseCapture(client.send, store_down, fail_closed=True)
    await answer(capture, 200, PAGE)
    assert client.status == 503 and isinstance(capture.error, RuntimeError)


def test_the_app_is_asked_only_for_what_we_can_read() -> None:
    scope = {
        "type": "http",
        "headers": [(b"accept-encoding", b"br, compress"), (b"x-a", b"1")],
        "extensions": {"http.response.pathsend": {}, "other": {}},
    }
    asked = for_reading(scope)
    assert dict(asked["headers"])[b"accept-encoding"] in (b"br", b"identity")  # br where a decoder is installed
    assert asked["extensions"] == {"other": {}}  # no file sent by path instead of its bytes
    assert scope["headers"][0] == (b"accept-encoding", b"br, compress")
