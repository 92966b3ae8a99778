"""A callable identity source: the app's own function names the actor, sync or awaited."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from starlette.datastructures import Headers

from safe_accounts.errors import ConfigurationError
from safe_accounts.identity import build_resolver
from safe_accounts.identity.resolvers import NOT_AN_ACCOUNT, NOT_AWAITED, SYNC_ON_ASYNC
from safe_accounts.policy.model import CallableIdentity, HeaderIdentity

HERE = __name__
SESSIONS = {"s-parent": "parent", "s-kid": "kid"}
SEEN: list[Any] = []


def scope(headers: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "http",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("203.0.113.9", 5000),
        "query_string": b"",
        **extra,
    }


def source(function: str) -> CallableIdentity:
    return CallableIdentity(source="callable", callable=f"{HERE}:{function}")


def from_session_header(scope: Any, headers: Headers) -> str | None:
    SEEN.append(headers)
    return SESSIONS.get(headers.get("X-App-Session", ""))


async def from_session_store(scope: Any, headers: Headers) -> str | None:
    await asyncio.sleep(0)  # the app's session store, over the network
    return SESSIONS.get(headers.get("x-app-session", ""))


def from_scope(scope: Any, headers: Headers) -> Any:
    return scope.get("app_account")


def a_coroutine_from_a_plain_function(scope: Any, headers: Headers) -> Any:
    return from_session_store(scope, headers)


class Sessions:
    """A callable object whose `__call__` is `async def`."""

    async def __call__(self, scope: Any, headers: Headers) -> str | None:
        return SESSIONS.get(headers.get("x-app-session", ""))


session_object = Sessions()


def test_a_plain_function_names_the_actor_from_the_request_headers() -> None:
    resolver = build_resolver([source("from_session_header")])

    assert resolver.is_async is False
    assert resolver.resolve(scope({"x-app-session": "s-parent"})) == "parent"
    assert resolver.resolve(scope({"x-app-session": "forged"})) is None
    assert resolver.resolve(scope()) is None


def test_the_headers_are_starlettes_case_insensitive_headers_of_the_request() -> None:
    SEEN.clear()
    build_resolver([source("from_session_header")]).resolve(scope({"x-app-session": "s-kid"}))

    [headers] = SEEN
    assert isinstance(headers, Headers)
    assert headers["X-APP-SESSION"] == "s-kid"


def test_the_scope_is_the_requests_own() -> None:
    resolver = build_resolver([source("from_scope")])

    assert resolver.resolve(scope(app_account="kid")) == "kid"
    assert resolver.resolve(scope(app_account=42)) == "42"
    account = uuid.UUID(int=7)
    assert resolver.resolve(scope(app_account=account)) == str(account)
    assert resolver.resolve(scope(app_account="")) is None
    assert resolver.resolve(scope()) is None


async def test_an_async_function_is_awaited() -> None:
    resolver = build_resolver([source("from_session_store")])

    assert resolver.is_async is True
    assert await resolver.resolve_async(scope({"x-app-session": "s-kid"})) == "kid"
    assert await resolver.resolve_async(scope()) is None


async def test_an_object_with_an_async_call_is_awaited_too() -> None:
    resolver = build_resolver([source("session_object")])

    assert resolver.is_async is True
    assert await resolver.resolve_async(scope({"x-app-session": "s-parent"})) == "parent"


async def test_an_async_source_makes_the_whole_chain_awaited_in_order() -> None:
    gateway = HeaderIdentity(source="header", header="x-account-id", trusted_proxies=("10.0.0.0/8",))
    resolver = build_resolver([gateway, source("from_session_store")])

    assert resolver.is_async is True
    from_gateway = scope({"x-account-id": "teacher", "x-app-session": "s-kid"}, client=("10.0.0.1", 1))
    assert await resolver.resolve_async(from_gateway) == "teacher"
    assert await resolver.resolve_async(scope({"x-app-session": "s-kid"})) == "kid"


def test_an_async_chain_cannot_be_resolved_without_awaiting() -> None:
    resolver = build_resolver([source("from_session_store")])

    with pytest.raises(TypeError) as raised:
        resolver.resolve(scope({"x-app-session": "s-kid"}))
    assert str(raised.value) == SYNC_ON_ASYNC


def test_an_answer_that_is_not_an_account_id_is_an_error_not_a_guess() -> None:
    resolver = build_resolver([source("from_scope")])

    for wrong in (True, {"id": "kid"}, 4.2, b"kid"):
        with pytest.raises(TypeError) as raised:
            resolver.resolve(scope(app_account=wrong))
        spec = f"{HERE}:from_scope"
        assert str(raised.value) == NOT_AN_ACCOUNT.format(spec=spec, kind=type(wrong).__name__)


def test_a_plain_function_returning_a_coroutine_is_an_error() -> None:
    resolver = build_resolver([source("a_coroutine_from_a_plain_function")])

    with pytest.raises(TypeError) as raised:
        resolver.resolve(scope({"x-app-session": "s-kid"}))
    assert str(raised.value) == NOT_AWAITED.format(spec=f"{HERE}:a_coroutine_from_a_plain_function")


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("tests.identity.no_such_module:account_of", "cannot import 'tests.identity.no_such_module'"),
        (f"{HERE}:no_such_function", f"{HERE!r} has no 'no_such_function'"),
        (f"{HERE}:SESSIONS", "is not callable"),
    ],
)
def test_a_callable_that_cannot_be_imported_stops_start_up_naming_the_source(spec: str, reason: str) -> None:
    gateway = HeaderIdentity(source="header", header="x-account-id", trusted_proxies=("10.0.0.0/8",))
    with pytest.raises(ConfigurationError) as raised:
        build_resolver([gateway, CallableIdentity(source="callable", callable=spec)])
    assert str(raised.value).startswith("identity[1]: ")
    assert reason in str(raised.value)
