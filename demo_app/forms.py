"""The HTML forms' door to the actions: `POST /web/...` with urlencoded fields named
as in the JSON API (`to`, `text`, `account`, `participants`, `reason`).

A plain form post is answered with `303 See Other` to the next page, carrying a
notice. The pages' script posts the same form with `Accept: application/json` and is
answered `{"location": ...}` instead, so that a refusal - ours, or a problem+json from
anything in front of the app - can be shown on the page rather than replacing it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from . import fields
from .actions import ACTIONS, Action
from .runtime import actor, runtime


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", ""
    )


def back_to(value: Any) -> str:
    """A local page to return to; anything else (another site, `//host`) goes home."""
    local = isinstance(value, str) and value.startswith("/") and not value.startswith("//")
    if local and not urlsplit(value).netloc and "\\" not in value:
        return value
    return "/"


def with_notice(location: str, notice: str) -> str:
    parts = urlsplit(location)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "notice"]
    return f"{parts.path}?{urlencode([*query, ('notice', notice)])}"


def moved(request: Request, location: str, status: int = 200) -> Response:
    if wants_json(request):
        return JSONResponse({"location": location}, status_code=status)
    return RedirectResponse(location, status_code=303)


def _endpoint(action: Action) -> Any:
    async def endpoint(request: Request) -> Response:
        who = actor(request)
        data = await fields.form_fields(request)
        rt = runtime(request)
        async with rt.require_engine().begin() as conn:
            done = await action.run(conn, who, data, dict(request.path_params), rt.clock.now())
        location = with_notice(done.location or back_to(data.get("next")), done.notice)
        return moved(request, location, done.status)

    return endpoint


def routes() -> list[BaseRoute]:
    return [Route(f"/web{a.path}", _endpoint(a), methods=["POST"]) for a in ACTIONS]
