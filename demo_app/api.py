"""The JSON API: every action and every read, as `/api/...` routes.

Bodies are JSON objects; ids may be numbers or numeric strings; lists of people are
`{"results": [{id, handle, display_name}, ...]}`; errors are problem details.
See docs/demo.md for the table of routes.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from . import fields
from .actions import ACTIONS, Action
from .problems import invalid
from .runtime import actor, runtime
from .service import accounts, contacts, messaging

MAX_QUERY = 100


def _endpoint(action: Action) -> Any:
    async def endpoint(request: Request) -> Response:
        who = actor(request)
        data = await fields.json_object(request)
        rt = runtime(request)
        async with rt.require_engine().begin() as conn:
            done = await action.run(conn, who, data, dict(request.path_params), rt.clock.now())
        return JSONResponse(done.body, status_code=done.status)

    return endpoint


async def login(request: Request) -> Response:
    data = await fields.json_object(request)
    handle = fields.text(data, "handle", max_length=40)
    token, row = await runtime(request).log_in(handle)
    return JSONResponse({"token": token, "token_type": "bearer", "account": accounts.card(row)})


async def me(request: Request) -> Response:
    who = actor(request)
    async with runtime(request).require_engine().connect() as conn:
        return JSONResponse(await accounts.profile(conn, who, who))


async def account(request: Request) -> Response:
    who = actor(request)
    async with runtime(request).require_engine().connect() as conn:
        return JSONResponse(await accounts.profile(conn, who, request.path_params["account_id"]))


def _results(results: list[dict[str, Any]]) -> Response:
    return JSONResponse({"results": results})


async def friends(request: Request) -> Response:
    who = actor(request)
    async with runtime(request).require_engine().connect() as conn:
        return _results(await accounts.friends(conn, who, request.path_params["account_id"]))


async def followers(request: Request) -> Response:
    who = actor(request)
    async with runtime(request).require_engine().connect() as conn:
        return _results(await accounts.followers(conn, who, request.path_params["account_id"]))


async def search(request: Request) -> Response:
    who = actor(request)
    q = request.query_params.get("q", "").strip()
    if not q:
        raise invalid("`q` is required: the text to look for in handles and names")
    if len(q) > MAX_QUERY:
        raise invalid(f"`q` is longer than {MAX_QUERY} characters")
    async with runtime(request).require_engine().connect() as conn:
        return _results(await accounts.search(conn, who, q))


async def suggestions(request: Request) -> Response:
    who = actor(request)
    async with runtime(request).require_engine().connect() as conn:
        return _results(await accounts.suggestions(conn, who))


async def friend_requests(request: Request) -> Response:
    who = actor(request)
    async with runtime(request).require_engine().connect() as conn:
        return _results(await contacts.incoming_requests(conn, who))


async def conversations(request: Request) -> Response:
    who = actor(request)
    async with runtime(request).require_engine().connect() as conn:
        return _results(await messaging.conversations_of(conn, who))


async def conversation(request: Request) -> Response:
    who = actor(request)
    conversation_id = request.path_params["conversation_id"]
    async with runtime(request).require_engine().connect() as conn:
        return JSONResponse(await messaging.conversation(conn, who, conversation_id))


def routes() -> list[BaseRoute]:
    reads = [
        Route("/api/login", login, methods=["POST"]),
        Route("/api/me", me, methods=["GET"]),
        Route("/api/accounts/{account_id:int}", account, methods=["GET"]),
        Route("/api/accounts/{account_id:int}/friends", friends, methods=["GET"]),
        Route("/api/accounts/{account_id:int}/followers", followers, methods=["GET"]),
        Route("/api/search", search, methods=["GET"]),
        Route("/api/suggestions", suggestions, methods=["GET"]),
        Route("/api/friend-requests", friend_requests, methods=["GET"]),
        Route("/api/conversations", conversations, methods=["GET"]),
        Route("/api/conversations/{conversation_id:int}", conversation, methods=["GET"]),
    ]
    writes = [Route(f"/api{a.path}", _endpoint(a), methods=["POST"]) for a in ACTIONS]
    return reads + writes
