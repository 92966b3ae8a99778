"""The answer a hidden account gets: the app's own "no such account", as ready bytes.

Built once at start-up per route from `not_found:` (the route's, else the policy's
default, else the framework's own 404). A `hide` decision sends exactly these bytes and
nothing more - no decision header, no header the app would not send - so that a stranger
cannot tell a hidden under-13 from an id that does not exist. Which rule hid it is in the
decision log, never in the answer. A body that names the id (`there is no account 7`)
says where with `{path.NAME}` or `{query.NAME}`: only those slots are filled per request.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.exceptions import HTTPException

from .._types import Send
from ..errors import ConfigurationError
from ..policy.model import NotFound
from ..policy.paths import template_convertors
from .request_view import RequestView

# The frameworks' own 404s (`Router.not_found` and the default HTTPException handlers).
STARLETTE = NotFound()
FASTAPI = NotFound(content_type="application/json", body='{"detail":"Not Found"}')

# How deep `framework_of` follows an app's `.app` chain (middleware wrapping middleware).
_MAX_LAYERS = 64


# `{path.NAME}` / `{query.NAME}` in a body: the app's message names the id it did not find.
PLACEHOLDER = re.compile(r"\{(path|query)\.([A-Za-z_][A-Za-z0-9_]*)\}")

# How an app's router hands a path parameter to its handler (Starlette's convertors), so
# that `{path.id}` reads as the app's message does: `007` under `{id:int}` is `7`.
_AS_THE_APP_READS: dict[str, Callable[[str], str]] = {
    "int": lambda text: str(int(text)),
    "float": lambda text: str(float(text)),
    "uuid": lambda text: str(uuid.UUID(text)),
}


@dataclass(frozen=True, slots=True)
class _Slot:
    """Where the request's own id goes in the body."""

    where: str  # path | query
    name: str
    convert: Callable[[str], str] | None
    json: bool  # escaped as in a JSON string

    def text(self, view: RequestView) -> str:
        if self.where == "path":
            value = view.path_params.get(self.name, "")
            if self.convert is not None:
                try:
                    value = self.convert(value)
                except ValueError:
                    pass
        else:
            values = view.query_values(self.name)
            value = values[-1] if values else ""  # the value a framework's query dict keeps
        # As Starlette's and FastAPI's JSONResponse write a string (`ensure_ascii=False`).
        return json.dumps(value, ensure_ascii=False)[1:-1] if self.json else value


@dataclass(frozen=True, slots=True)
class NotFoundAnswer:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]  # the whole list when the body is fixed
    body: bytes
    # A body that names the request's id: its text around the slots, and the headers
    # before and after `content-length`.
    parts: tuple[str | _Slot, ...] = ()
    before: tuple[tuple[bytes, bytes], ...] = ()
    after: tuple[tuple[bytes, bytes], ...] = ()

    async def send(self, send: Send, view: RequestView) -> None:
        if self.parts:
            body = "".join(p if isinstance(p, str) else p.text(view) for p in self.parts).encode()
            headers = [*self.before, (b"content-length", str(len(body)).encode()), *self.after]
        else:
            # A fresh list per answer: a server or a middleware may add to the one it gets.
            body, headers = self.body, list(self.headers)
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def compile_not_found(spec: NotFound, template: str | None = None) -> NotFoundAnswer:
    """The bytes of `spec`, in the order Starlette (and FastAPI) responses write them.
    `template` is the route's: a `{path.NAME}` in the body must name one of its parameters."""
    before = tuple((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in spec.headers.items())
    after = () if spec.content_type is None else ((b"content-type", spec.content_type.encode("latin-1")),)
    parts = _parts(spec, template)
    if parts:
        return NotFoundAnswer(spec.status, (), b"", parts, before, after)
    body = spec.body.encode()
    return NotFoundAnswer(spec.status, (*before, (b"content-length", str(len(body)).encode()), *after), body)


def _parts(spec: NotFound, template: str | None) -> tuple[str | _Slot, ...]:
    if PLACEHOLDER.search(spec.body) is None:
        return ()
    convertors = {} if template is None else template_convertors(template)
    json_body = spec.content_type is not None and "json" in spec.content_type.lower()
    parts: list[str | _Slot] = []
    end = 0
    for found in PLACEHOLDER.finditer(spec.body):
        where, name = found.group(1), found.group(2)
        if where == "path" and name not in convertors:
            route = "this route's template" if template is None else f"the template {template!r}"
            raise ConfigurationError(f"not_found body names {{path.{name}}}, but {route} has no {{{name}}}")
        parts.append(spec.body[end : found.start()])
        parts.append(_Slot(where, name, _AS_THE_APP_READS.get(convertors.get(name, "")), json_body))
        end = found.end()
    parts.append(spec.body[end:])
    return tuple(p for p in parts if p != "")


STARLETTE_ANSWER = compile_not_found(STARLETTE)


def framework_of(app: object) -> NotFound:
    """The 404 of the framework `app` is built on: FastAPI's JSON when FastAPI's handler
    answers HTTP exceptions somewhere under it (a FastAPI app, or the layer of its stack
    that a middleware added with `add_middleware` wraps), else Starlette's plain text. An
    app with its own 404 handler answers its own shape: `safe-accounts policy not-found`
    reads it, for the policy's `not_found:`."""
    seen: set[int] = set()
    layer: object | None = app
    for _ in range(_MAX_LAYERS):
        if layer is None or id(layer) in seen:
            break
        seen.add(id(layer))
        if _fastapi_handles_404(layer):
            return FASTAPI
        layer = getattr(layer, "app", None)
    return STARLETTE


def _fastapi_handles_404(layer: object) -> bool:
    for attribute in ("exception_handlers", "_exception_handlers", "_status_handlers"):
        handlers = getattr(layer, attribute, None)
        if isinstance(handlers, dict) and _fastapi_handler(handlers.items()):
            return True
    return False


def _fastapi_handler(handlers: Iterable[tuple[object, object]]) -> bool:
    for key, handler in handlers:
        answers_404 = key == 404 or (isinstance(key, type) and issubclass(key, HTTPException))
        if answers_404 and getattr(handler, "__module__", "").startswith("fastapi."):
            return True
    return False
