"""Identity resolvers, tried in the policy's order; the first that names an account wins.

- `scope_user`: `scope["user"]` set by the app's own authentication (Starlette's
  AuthenticationMiddleware). Only there when Safe Accounts runs *inside* that middleware.
- `header`: a header set by a trusted gateway, honoured only when the connection comes from
  one of `trusted_proxies`. From anywhere else a client could simply write the header
  and speak as anyone: it is ignored.
- `jwt`: a signed token (Authorization bearer, a cookie, or a query parameter for
  WebSocket handshakes), verified with an algorithm allow-list, the key, expiry, and
  optional audience/issuer. `alg: none`, a wrong key or an expired token name nobody.
- `callable`: the app's own function, `f(scope, headers) -> account id | None`, for an app
  with its own token or session scheme; `async def` functions are awaited.

Anything else is anonymous. Resolvers are built once; the built-in ones do no I/O. A
callable source that is `async def` makes the whole chain awaited (`is_async`), and only
then does the request path await it.
"""

from __future__ import annotations

import inspect
import ipaddress
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Sequence
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

import jwt
from starlette.authentication import SimpleUser
from starlette.datastructures import Headers

from .._callables import import_callable
from .._types import Scope
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import ConfigurationError
from ..policy import model

logger = logging.getLogger("safe_accounts.identity")

UNTRUSTED_HEADER = "identity header %r ignored: connection from untrusted address %s"
BAD_TOKEN = "identity token rejected (%s): treated as anonymous"

# What an identity callable answered that is not an account id: a fault of the app's
# function, which fails the request closed rather than guess who is acting.
NOT_AN_ACCOUNT = (
    "identity callable {spec} returned {kind}: expected an account id (str, int or UUID) or None"
)
NOT_AWAITED = (
    "identity callable {spec} returned an awaitable from a plain function: declare it `async def`"
)
SYNC_ON_ASYNC = (
    "the policy's identity has an `async def` callable source: use `await resolve_async(scope)`"
)

Resolver = Callable[[Scope], str | None]
AsyncResolver = Callable[[Scope], Awaitable[str | None]]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _scope_user(config: model.ScopeUserIdentity) -> Resolver:
    attribute = config.attribute

    def resolve(scope: Scope) -> str | None:
        user = scope.get("user")
        if user is None or not getattr(user, "is_authenticated", True):
            return None
        try:
            value = getattr(user, attribute, None)
        except NotImplementedError:
            # Starlette's BaseUser.identity raises where a user class gives none, as its own
            # SimpleUser did before Starlette 1.7 (since then its identity is its username).
            simple = attribute == "identity" and isinstance(user, SimpleUser)
            value = user.username if simple else None
        return None if value in (None, "") else str(value)

    return resolve


def _trusted_header(config: model.HeaderIdentity) -> Resolver:
    name = config.header.lower().encode("latin-1")
    try:
        networks = tuple(ipaddress.ip_network(p, strict=False) for p in config.trusted_proxies)
    except ValueError as exc:
        raise ConfigurationError(f"identity.trusted_proxies: {exc}") from exc

    seen: dict[str, bool] = {}

    def trusted(host: str) -> bool:
        known = seen.get(host)
        if known is not None:
            return known
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            verdict = False
        else:
            verdict = any(address in network for network in networks)
        if len(seen) < 4096:  # peers are a handful of proxies; never grow without bound
            seen[host] = verdict
        return verdict

    def resolve(scope: Scope) -> str | None:
        # `_header`, written out: every request.
        for key, raw in scope.get("headers") or ():  # noqa: B007 - `raw` is read after the break
            if key == name:
                break
        else:
            return None
        if not raw:
            return None
        client = scope.get("client")
        if client is None or not trusted(client[0]):
            logger.warning(UNTRUSTED_HEADER, config.header, client[0] if client else None)
            return None
        return raw.decode("latin-1").strip() or None

    return resolve


def _jwt(config: model.JwtIdentity, clock: Clock) -> Resolver:
    key = os.environ.get(config.key_env)
    if not key:
        raise ConfigurationError(
            f"identity jwt: environment variable {config.key_env} (the verification key) is not set"
        )
    if any(alg.lower() == "none" for alg in config.algorithms):
        raise ConfigurationError("identity jwt: algorithm 'none' can never be allowed")
    algorithms = list(config.algorithms)
    header = config.header.lower().encode("latin-1") if config.header else None
    cookie = config.cookie
    query = config.query.encode() if config.query else None
    # Expiry (and not-before) are checked against the middleware's clock, not PyJWT's wall
    # clock: the simulation and the tests run on a clock they control.
    options: Any = {"require": ["exp"], "verify_exp": False, "verify_nbf": False}
    leeway = config.leeway_seconds
    claim = config.claim

    def token_of(scope: Scope) -> str | None:
        if header is not None:
            value = _header(scope, header)
            if value:
                scheme, _, credentials = value.partition(" ")
                if header != b"authorization":
                    return value.strip()
                if scheme.lower() == "bearer" and credentials.strip():
                    return credentials.strip()
        if cookie is not None:
            raw = _header(scope, b"cookie")
            if raw:
                jar: SimpleCookie = SimpleCookie()
                try:
                    jar.load(raw)
                except Exception:  # noqa: BLE001 - a malformed cookie names nobody
                    return None
                morsel = jar.get(cookie)
                if morsel is not None and morsel.value:
                    return str(morsel.value)
        if query is not None:
            for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
                if name.encode() == query and value:
                    return str(value)
        return None

    def resolve(scope: Scope) -> str | None:
        token = token_of(scope)
        if token is None:
            return None
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=config.audience,
                issuer=config.issuer,
                leeway=config.leeway_seconds,
                options=options,
            )
        except jwt.PyJWTError as exc:
            # The reason, never the token: tokens are secrets.
            logger.info(BAD_TOKEN, exc.__class__.__name__)
            return None
        now = clock.now()
        expires, not_before = claims.get("exp"), claims.get("nbf")
        if not isinstance(expires, int | float) or now > expires + leeway:
            logger.info(BAD_TOKEN, "ExpiredSignatureError")
            return None
        if not_before is not None and (not isinstance(not_before, int | float) or now < not_before - leeway):
            logger.info(BAD_TOKEN, "ImmatureSignatureError")
            return None
        value = claims.get(claim)
        return None if value in (None, "") else str(value)

    return resolve


def _account(value: Any, spec: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | uuid.UUID) and not isinstance(value, bool):
        return str(value)
    raise TypeError(NOT_AN_ACCOUNT.format(spec=spec, kind=type(value).__name__))


def _is_async(fn: Callable[..., Any]) -> bool:
    # An object whose `__call__` is `async def` is awaited like an `async def` function.
    call = getattr(fn, "__call__", None)  # noqa: B004 - the method, not callability
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)


def _callable(config: model.CallableIdentity) -> Resolver | AsyncResolver:
    spec = config.callable
    fn = import_callable(spec)

    if _is_async(fn):

        async def resolve_async(scope: Scope) -> str | None:
            return _account(await fn(scope, Headers(scope=scope)), spec)

        return resolve_async

    def resolve(scope: Scope) -> str | None:
        value = fn(scope, Headers(scope=scope))
        if inspect.isawaitable(value):
            if inspect.iscoroutine(value):
                value.close()  # never awaited: no "coroutine was never awaited" warning
            raise TypeError(NOT_AWAITED.format(spec=spec))
        return _account(value, spec)

    return resolve


class IdentityResolver:
    """Names the acting account of a request from the policy's identity sources.

    With only synchronous sources (`is_async` False), `resolve(scope)` names the actor.
    With an `async def` source, `await resolve_async(scope)` does, and `resolve` raises.
    """

    __slots__ = ("_resolvers", "_steps", "is_async", "resolve")

    def __init__(self, resolvers: Sequence[Resolver | AsyncResolver]) -> None:
        self._resolvers = tuple(resolvers)
        self._steps = tuple((r, inspect.iscoroutinefunction(r)) for r in self._resolvers)
        self.is_async = any(awaits for _, awaits in self._steps)
        self.resolve: Resolver
        if self.is_async:
            self.resolve = _refuse_sync
        elif len(self._resolvers) == 1:
            # With one source (the usual case) `resolve` is that source's function itself,
            # one call fewer per request.
            self.resolve = self._resolvers[0]  # type: ignore[assignment]
        else:
            self.resolve = self._first

    def __call__(self, scope: Scope) -> str | None:
        return self.resolve(scope)

    async def resolve_async(self, scope: Scope) -> str | None:
        """The actor, awaiting the `async def` sources; works for any chain."""
        for resolve, awaits in self._steps:
            account = await resolve(scope) if awaits else resolve(scope)  # type: ignore[misc]
            if account is not None:
                return account  # type: ignore[return-value]
        return None

    def _first(self, scope: Scope) -> str | None:
        for resolve in self._resolvers:
            account = resolve(scope)
            if account is not None:
                return account  # type: ignore[return-value]
        return None


def _refuse_sync(scope: Scope) -> str | None:
    raise TypeError(SYNC_ON_ASYNC)


def build_resolver(
    sources: Sequence[
        model.ScopeUserIdentity | model.HeaderIdentity | model.JwtIdentity | model.CallableIdentity
    ],
    *,
    clock: Clock = SYSTEM_CLOCK,
) -> IdentityResolver:
    """Resolvers for the policy's `identity:` list; none configured means `scope_user`."""
    if not sources:
        sources = (model.ScopeUserIdentity(source="scope_user"),)
    built: list[Resolver | AsyncResolver] = []
    for index, source in enumerate(sources):
        if isinstance(source, model.ScopeUserIdentity):
            built.append(_scope_user(source))
        elif isinstance(source, model.HeaderIdentity):
            built.append(_trusted_header(source))
        elif isinstance(source, model.CallableIdentity):
            try:
                built.append(_callable(source))
            except ConfigurationError as exc:
                raise ConfigurationError(f"identity[{index}]: {exc}") from exc
        else:
            built.append(_jwt(source, clock))
    return IdentityResolver(built)
