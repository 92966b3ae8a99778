"""Who is acting: only what was verified names an account; everything else is anonymous."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from starlette.authentication import BaseUser, SimpleUser, UnauthenticatedUser

from safe_accounts.clock import FrozenClock
from safe_accounts.errors import ConfigurationError
from safe_accounts.identity import build_resolver
from safe_accounts.policy.model import HeaderIdentity, JwtIdentity, ScopeUserIdentity

KEY = "k" * 40
NOW = 1_800_000_000


def scope(headers: dict[str, str] | None = None, client: str = "203.0.113.9", query: str = "") -> dict:  # type: ignore[type-arg]
    return {
        "type": "http",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": (client, 5000),
        "query_string": query.encode(),
    }


@pytest.fixture
def jwt_resolver(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TEST_JWT_KEY", KEY)
    config = JwtIdentity(source="jwt", key_env="TEST_JWT_KEY", cookie="session", query="token")
    return build_resolver([config], clock=FrozenClock(NOW))


def token(claims: dict, key: str = KEY, alg: str = "HS256") -> str:  # type: ignore[type-arg]
    return jwt.encode({"exp": NOW + 60, **claims}, key, algorithm=alg)


def test_a_valid_bearer_token_names_its_subject(jwt_resolver) -> None:  # type: ignore[no-untyped-def]
    assert jwt_resolver(scope({"authorization": f"Bearer {token({'sub': 'acct-1'})}"})) == "acct-1"


def test_the_token_may_come_from_a_cookie(jwt_resolver) -> None:  # type: ignore[no-untyped-def]
    assert jwt_resolver(scope({"cookie": f"theme=dark; session={token({'sub': 'acct-2'})}"})) == "acct-2"


def test_or_from_the_query_for_websocket_handshakes(jwt_resolver) -> None:  # type: ignore[no-untyped-def]
    assert jwt_resolver(scope(query=f"token={token({'sub': 'acct-3'})}")) == "acct-3"


def test_a_token_signed_with_another_key_names_nobody(jwt_resolver) -> None:  # type: ignore[no-untyped-def]
    forged = token({"sub": "parent"}, key="x" * 40)
    assert jwt_resolver(scope({"authorization": f"Bearer {forged}"})) is None


def test_alg_none_names_nobody(jwt_resolver) -> None:  # type: ignore[no-untyped-def]
    def b64(data: dict) -> str:  # type: ignore[type-arg]
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64({'sub': 'parent', 'exp': NOW + 60})}."
    assert jwt_resolver(scope({"authorization": f"Bearer {unsigned}"})) is None


def test_an_expired_token_names_nobody_on_the_middlewares_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JWT_KEY", KEY)
    clock = FrozenClock(NOW)
    resolver = build_resolver([JwtIdentity(source="jwt", key_env="TEST_JWT_KEY")], clock=clock)
    bearer = scope({"authorization": f"Bearer {token({'sub': 'acct-1'})}"})
    assert resolver(bearer) == "acct-1"
    clock.advance(61)
    assert resolver(bearer) is None


def test_a_token_without_expiry_names_nobody(jwt_resolver) -> None:  # type: ignore[no-untyped-def]
    forever = jwt.encode({"sub": "acct-1"}, KEY, algorithm="HS256")
    assert jwt_resolver(scope({"authorization": f"Bearer {forever}"})) is None


def test_algorithm_none_cannot_be_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_JWT_KEY", KEY)
    with pytest.raises(ConfigurationError, match="none"):
        build_resolver([JwtIdentity(source="jwt", key_env="TEST_JWT_KEY", algorithms=("none",))])


def test_a_missing_key_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_JWT_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="TEST_JWT_KEY"):
        build_resolver([JwtIdentity(source="jwt", key_env="TEST_JWT_KEY")])


def test_a_gateway_header_is_honoured_only_from_a_trusted_proxy() -> None:
    resolver = build_resolver(
        [HeaderIdentity(source="header", header="x-account-id", trusted_proxies=("10.0.0.0/8",))]
    )
    assert resolver(scope({"x-account-id": "acct-1"}, client="10.1.2.3")) == "acct-1"
    assert resolver(scope({"x-account-id": "parent"}, client="203.0.113.9")) is None


def test_scope_user_comes_from_the_apps_authentication() -> None:
    class User:
        is_authenticated = True
        identity = "acct-9"

    resolver = build_resolver([ScopeUserIdentity(source="scope_user")])
    assert resolver({**scope(), "user": User()}) == "acct-9"
    assert resolver(scope()) is None


def test_a_user_class_without_an_identity_is_anonymous_not_an_error() -> None:
    """Starlette's BaseUser.identity raises NotImplementedError where a subclass gives none."""

    class Named(BaseUser):
        is_authenticated = True

    resolver = build_resolver([ScopeUserIdentity(source="scope_user")])
    assert resolver({**scope(), "user": Named()}) is None


def test_starlettes_simple_user_is_its_username_on_every_supported_starlette() -> None:
    """SimpleUser has an identity (its username) from Starlette 1.7; before, the same is read."""
    resolver = build_resolver([ScopeUserIdentity(source="scope_user")])
    assert resolver({**scope(), "user": SimpleUser("acct-7")}) == "acct-7"
    assert resolver({**scope(), "user": UnauthenticatedUser()}) is None


def test_resolvers_are_tried_in_order(jwt_resolver) -> None:  # type: ignore[no-untyped-def]
    assert jwt_resolver(scope({"x-account-id": "spoofed"})) is None
