"""Every route an app serves, read from its own router, or a loud refusal (`policy coverage`).

Coverage is only worth something if it sees every route: a route it cannot see is a route
nobody checked. So the walk follows everything that can hold routes - middleware wrapped
around the app (`.app` chains: CORS, GZip, SafeAccountsMiddleware itself), Starlette's
`Router`, `Mount` (of a router, of another app, nested, with their path prefixes), `Host`,
and FastAPI's included routers (newer FastAPI keeps `include_router` as one wrapping
route instead of copying the routes in) - and anything else it meets raises
`Uninspectable` naming what it could not read and where, instead of counting it as no
routes at all.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from starlette.endpoints import HTTPEndpoint
from starlette.routing import Host, Mount, Route, Router, WebSocketRoute
from starlette.staticfiles import StaticFiles

_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(:[a-zA-Z_]+)?}")

# A route declared without methods whose endpoint is a bare ASGI app answers them all.
_EVERY_METHOD = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


class Uninspectable(Exception):
    """A part of the app whose routes cannot be read, so coverage cannot vouch for it."""

    def __init__(self, where: str, what: object, why: str) -> None:
        super().__init__(f"cannot inspect {describe(what)} at {where or '/'}: {why}")


@dataclass(frozen=True, slots=True)
class AppRoute:
    methods: tuple[str, ...]
    path: str
    params: tuple[str, ...]


def describe(obj: object) -> str:
    """`module.Name` of what was met: enough for the engineer to find it in the code."""
    kind = obj if inspect.isfunction(obj) or inspect.isclass(obj) else type(obj)
    return f"{getattr(kind, '__module__', '?')}.{getattr(kind, '__qualname__', repr(kind))}"


def app_routes(app: Any) -> list[AppRoute]:
    """Every endpoint route of `app`; raises `Uninspectable` on any part it cannot read."""
    return list(_contents(app, ""))


def _contents(app: Any, prefix: str) -> Iterator[AppRoute]:
    """The routes of whatever sits at `prefix`: a router, behind any middleware, or a known leaf."""
    current, seen = app, set()
    while id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, Router):
            for route in current.routes:
                yield from _route(route, prefix)
            return
        router = getattr(current, "router", None)  # Starlette, FastAPI
        if isinstance(router, Router):
            current = router
            continue
        if isinstance(current, StaticFiles):
            # Files from a directory: one catch-all GET route, which reaches no account.
            path = prefix + "/{path:path}"
            yield AppRoute(("GET", "HEAD"), path, ("path",))
            return
        inner = getattr(current, "app", None)  # a middleware: the app it wraps
        if inner is None or not callable(inner):
            break
        current = inner
    raise Uninspectable(prefix, current, "an ASGI callable with no router to read its routes from")


def _route(route: Any, prefix: str) -> Iterator[AppRoute]:
    if isinstance(route, WebSocketRoute):
        path = prefix + route.path
        yield AppRoute(("WEBSOCKET",), path, params(path))
    elif isinstance(route, Route):
        path = prefix + route.path
        yield AppRoute(_methods(route), path, params(path))
    elif isinstance(route, Mount):
        yield from _contents(route.app, prefix + route.path)
    elif isinstance(route, Host):
        yield from _contents(route.app, prefix)
    else:
        yield from _included(route, prefix)


def _methods(route: Route) -> tuple[str, ...]:
    if route.methods:
        return tuple(sorted(route.methods))
    endpoint = route.endpoint
    if inspect.isclass(endpoint) and issubclass(endpoint, HTTPEndpoint):
        return tuple(m for m in _EVERY_METHOD if hasattr(endpoint, m.lower())) or _EVERY_METHOD
    return _EVERY_METHOD


def _included(route: Any, prefix: str) -> Iterator[AppRoute]:
    """A route type that holds other routes: FastAPI's included router, read through the
    function FastAPI's own OpenAPI generator reads it with."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        raise Uninspectable(prefix, route, "a route of a kind coverage does not know") from None
    contexts = list(iter_route_contexts([route]))
    if all(context.original_route is route for context in contexts):
        raise Uninspectable(prefix, route, "a route of a kind coverage does not know")
    for context in contexts:
        original = context.original_route
        path = prefix + (context.path or "")
        if isinstance(original, WebSocketRoute):
            yield AppRoute(("WEBSOCKET",), path, params(path))
        elif isinstance(original, Route):
            yield AppRoute(tuple(sorted(context.methods or _EVERY_METHOD)), path, params(path))
        elif isinstance(original, Mount):
            yield from _contents(context.app, path)
        elif isinstance(original, Host):
            yield from _contents(context.app, prefix)
        else:
            raise Uninspectable(prefix, original, "a route of a kind coverage does not know")


def params(path: str) -> tuple[str, ...]:
    return tuple(m.group(1) for m in _PARAM.finditer(path))


# --- what `--app module:attribute` names -------------------------------------------------------


def resolve_app(obj: Any, spec: str, *, factory: bool | None = None) -> Any:
    """The app `spec` names: `obj` itself, or what it builds when it is an app factory.

    Told apart by how each is called, as a server would call it: an ASGI app takes
    `(scope, receive, send)`, a factory takes nothing. A class is always a factory (calling
    it builds the app). When both calls fit, only the engineer knows: `factory` says.
    """
    if factory is None:
        factory = _is_factory(obj, spec)
    if not factory:
        return obj
    if not callable(obj):
        raise Uninspectable("", obj, f"{spec} is not callable, so it cannot be an app factory")
    app = obj()
    if inspect.isawaitable(app):
        app = asyncio.run(_awaited(app))
    return app


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _is_factory(obj: Any, spec: str) -> bool:
    if isinstance(obj, Router) or isinstance(getattr(obj, "router", None), Router):
        return False
    if inspect.isclass(obj):
        return True
    if not callable(obj):
        raise Uninspectable("", obj, f"{spec} is neither an ASGI app nor an app factory (not callable)")
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return False  # no signature to read: treated as an app, and walked (or refused) as one
    takes_nothing = _binds(signature, 0)
    takes_asgi = _binds(signature, 3)
    if takes_nothing and not takes_asgi:
        return True
    if takes_asgi and not takes_nothing:
        return False
    if takes_nothing:
        raise Uninspectable(
            "", obj,
            f"{spec} can be called both with no arguments (an app factory) and with "
            "(scope, receive, send) (an ASGI app); say which with --factory or --no-factory",
        )
    raise Uninspectable(
        "", obj, f"{spec} is neither an ASGI app (scope, receive, send) nor an app factory (no arguments)"
    )


def _binds(signature: inspect.Signature, count: int) -> bool:
    try:
        signature.bind(*([None] * count))
    except TypeError:
        return False
    return True
