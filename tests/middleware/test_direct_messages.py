"""Direct messages: no stranger reaches a child, by any route or spelling."""

from __future__ import annotations

import pytest

from .conftest import Wrapped


async def test_a_stranger_cannot_message_a_child(wrapped: Wrapped) -> None:
    response = await wrapped.post("/api/v1/messages", "adult", json={"to": "kid", "text": "hi"})
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["rule"] == "stranger-dm-to-minor"
    assert problem["status"] == 403
    assert response.headers["safe-accounts-decision"] == problem["decision_id"]
    assert wrapped.reached("dm") == []


async def test_the_refusal_does_not_reveal_the_childs_band(wrapped: Wrapped) -> None:
    response = await wrapped.post("/api/v1/messages", "adult", json={"to": "kid", "text": "hi"})
    text = response.text
    assert "13_15" not in text and "kid" not in text


async def test_a_parent_connected_to_the_child_can_message_them(wrapped: Wrapped) -> None:
    response = await wrapped.post("/api/v1/messages", "parent", json={"to": "kid", "text": "dinner"})
    assert response.status_code == 201
    assert len(wrapped.reached("dm")) == 1


async def test_adults_message_adults(wrapped: Wrapped) -> None:
    response = await wrapped.post("/api/v1/messages", "adult", json={"to": "other-adult", "text": "hi"})
    assert response.status_code == 201


async def test_the_app_receives_the_body_byte_for_byte(wrapped: Wrapped) -> None:
    body = b'{"to": "other-adult",   "text": "exactly \\u00e9 these bytes"}'
    response = await wrapped.post(
        "/api/v1/messages", "adult", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 201
    assert wrapped.reached("dm") == [body]


async def test_a_body_sent_in_many_chunks_reaches_the_app_intact(wrapped: Wrapped) -> None:
    body = b'{"to": "other-adult", "text": "' + b"x" * 5000 + b'"}'

    async def chunks():  # type: ignore[no-untyped-def]
        for i in range(0, len(body), 7):
            yield body[i : i + 7]

    response = await wrapped.post(
        "/api/v1/messages", "adult", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 201
    assert wrapped.reached("dm") == [body]


async def test_a_chunked_body_to_a_child_is_still_refused(wrapped: Wrapped) -> None:
    body = b'{"text": "hello", "to": "kid"}'

    async def chunks():  # type: ignore[no-untyped-def]
        for i in range(len(body)):
            yield body[i : i + 1]

    response = await wrapped.post(
        "/api/v1/messages", "adult", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {"to": "kid"}},
        {"json": {"recipients": ["other-adult", "kid"]}},
        {"data": {"to": "kid"}},
        {"params": {"to": "kid"}, "json": {}},
        {"content": b'{"to": "other-adult", "to": "kid"}', "headers": {"content-type": "application/json"}},
        {"content": b'{"to": "kid", "to": "other-adult"}', "headers": {"content-type": "application/json"}},
        {"content": b'\xef\xbb\xbf{"to": "kid"}', "headers": {"content-type": "application/json"}},
        {"content": '{"to": "kid"}'.encode("utf-16"), "headers": {"content-type": "application/json"}},
        {"content": '{"to": "kid"}'.encode("utf-16-le"), "headers": {"content-type": "application/json"}},
        {"content": b'{"to": "kid"}', "headers": {"content-type": "text/plain"}},
        {"content": b"to=kid", "headers": {}},
        {"files": {"attachment": ("a.txt", b"x")}, "data": {"to": "kid"}},
        {"content": b'{"to": {"id": "other-adult", "id": "kid"}}', "headers": {"content-type": "application/json"}},
    ],
    ids=[
        "json", "recipient-list", "form", "query", "duplicate-key-last", "duplicate-key-first",
        "bom", "utf16", "utf16-without-bom", "mistyped-json", "untyped-form", "multipart", "duplicate-id-in-object",
    ],
)
async def test_the_target_cannot_hide_in_another_place(wrapped: Wrapped, kwargs: dict) -> None:  # type: ignore[type-arg]
    response = await wrapped.post("/api/v1/messages", "adult", **kwargs)
    assert response.status_code == 403, response.text
    assert wrapped.reached("dm") == []


async def test_a_compressed_body_is_inspected(wrapped: Wrapped) -> None:
    import gzip

    response = await wrapped.post(
        "/api/v1/messages",
        "adult",
        content=gzip.compress(b'{"to": "kid"}'),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert response.status_code == 403


async def test_an_oversized_body_is_refused_with_413(wrapped: Wrapped) -> None:
    response = await wrapped.post("/api/v1/messages", "adult", json={"to": "other-adult", "text": "x" * 2_000_000})
    assert response.status_code == 413
    assert wrapped.reached("dm") == []


async def test_an_unparseable_body_on_a_protected_route_is_refused(wrapped: Wrapped) -> None:
    response = await wrapped.post(
        "/api/v1/messages", "adult", content=b'{"to": "kid"', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("target", [7, "7", " 7", "007", 7.0])
async def test_ids_in_any_shape_are_the_same_account(wrapped: Wrapped, target: object) -> None:
    from safe_accounts.bands.age import AgeBand

    runtime = await wrapped.middleware.start()
    await runtime.bands.set("7", band=AgeBand.UNDER_13)
    response = await wrapped.post("/api/v1/messages", "adult", json={"to": target})
    assert response.status_code == 403


async def test_a_group_chat_with_a_child_stranger_is_refused(wrapped: Wrapped) -> None:
    response = await wrapped.post(
        "/api/v1/conversations", "adult", json={"participants": [{"id": "other-adult"}, {"id": "kid"}]}
    )
    assert response.status_code == 403


async def test_the_v2_route_resolves_participants_in_sql(wrapped: Wrapped) -> None:
    refused = await wrapped.post("/api/v2/conversations/c-stranger/messages", "adult", json={"text": "hi"})
    assert refused.status_code == 403
    allowed = await wrapped.post("/api/v2/conversations/c-family/messages", "parent", json={"text": "hi"})
    assert allowed.status_code == 201


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/messages/",
        "/api//v1/messages",
        "/API/v1/Messages",
        "/api/v1/%6Dessages",
        "/api/v1/x/../messages",
        "/api/./v1/messages",
        "/api/v1/messages;jsessionid=1",
    ],
)
async def test_every_spelling_of_the_path_is_protected(wrapped: Wrapped, path: str) -> None:
    response = await wrapped.post(path, "adult", json={"to": "kid"})
    assert response.status_code in (403,), (path, response.status_code)
    assert wrapped.reached("dm") == []


async def test_method_override_does_not_escape_the_rule(wrapped: Wrapped) -> None:
    response = await wrapped.client.request(
        "PUT", "/api/v1/messages", json={"to": "kid"},
        headers={"x-account-id": "adult", "x-http-method-override": "POST"},
    )
    assert response.status_code == 403


async def test_anonymous_messages_to_children_are_refused(wrapped: Wrapped) -> None:
    response = await wrapped.post("/api/v1/messages", None, json={"to": "kid"})
    assert response.status_code == 403


async def test_every_refusal_is_in_the_decision_log(wrapped: Wrapped) -> None:
    response = await wrapped.post("/api/v1/messages", "adult", json={"to": "kid", "text": "secret words"})
    rows = await wrapped.decisions()
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == response.json()["decision_id"]
    assert (row["actor_id"], row["actor_band"], row["target_id"], row["target_band"]) == (
        "adult", "adult", "kid", "13_15",
    )
    assert (row["rule"], row["outcome"], row["mode"], row["status"]) == ("stranger-dm-to-minor", "deny", "enforce", 403)
    assert row["policy_version"] == wrapped.middleware.policy.version
    assert "secret words" not in repr(row)
