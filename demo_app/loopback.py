"""Pages read their data from the JSON API, in-process, through the app's front door.

A page is rendered from the same `/api/...` responses an API client gets, fetched by
an ASGI call to the *outermost* app (whatever wraps this one, e.g. a middleware that
filters search results or redacts profiles). What the API would not show a person,
their pages do not show either. The caller's credentials go along; nothing else does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.types import ASGIApp, Message

_FORWARDED = (b"authorization", b"cookie", b"host", b"user-agent")


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: Any  # the parsed JSON; for a refusal, its problem details

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def problem(self) -> dict[str, Any]:
        body = self.body if isinstance(self.body, dict) else {}
        return {
            "title": str(body.get("title") or f"Error {self.status}"),
            "detail": str(body.get("detail") or ""),
            "status": self.status,
        }


async def get(front: ASGIApp, request: Request, path: str, **query: Any) -> Reply:
    headers = [(k, v) for k, v in request.scope["headers"] if k in _FORWARDED]
    headers.append((b"accept", b"application/json"))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": request.url.scheme,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": urlencode({k: v for k, v in query.items() if v is not None}).encode(),
        "headers": headers,
        "client": request.scope.get("client"),
        "server": request.scope.get("server"),
        "state": {},
    }
    sent_body = False
    status = 500
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await front(scope, receive, send)
    raw = b"".join(chunks)
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = {"title": f"Error {status}", "detail": raw.decode("utf-8", "replace")[:200]}
    return Reply(status, body)
