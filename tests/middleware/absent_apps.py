"""Apps with their own idea of "no such account", for the not-found tests.

Each serves `/users/{user_id}` from its own table (a dict of id -> name) and answers an
id it does not have in its own way. Module-level instances serve the CLI, which imports
an app by `module:attribute` as a server does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi import HTTPException as FastAPIHTTPException
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# The app's table: an under-13 (hidden from strangers), an adult, and the stranger.
USERS = {"1001": "Young", "1002": "Grown", "1003": "Stranger"}


def fastapi_named(users: Mapping[str, str]) -> FastAPI:
    """FastAPI, a typed `int` id, a router included: `{"detail":"User 7 not found"}`."""
    router = APIRouter()

    @router.get("/users/{user_id}")
    async def user(user_id: int) -> dict[str, Any]:
        if str(user_id) not in users:
            raise FastAPIHTTPException(status_code=404, detail=f"User {user_id} not found")
        return {"id": user_id, "name": users[str(user_id)]}

    app = FastAPI()
    app.include_router(router)
    return app


def fastapi_plain(users: Mapping[str, str]) -> FastAPI:
    """FastAPI's own 404: `{"detail":"Not Found"}`."""
    app = FastAPI()

    @app.get("/users/{user_id}")
    async def user(user_id: str) -> dict[str, Any]:
        if user_id not in users:
            raise FastAPIHTTPException(status_code=404)
        return {"id": user_id, "name": users[user_id]}

    return app


def starlette_plain(users: Mapping[str, str]) -> Starlette:
    """Starlette's own 404: `Not Found` as plain text."""

    async def user(request: Request) -> Response:
        user_id = request.path_params["user_id"]
        if user_id not in users:
            raise HTTPException(status_code=404)
        return JSONResponse({"id": user_id, "name": users[user_id]})

    return Starlette(routes=[Route("/users/{user_id}", user)])


def starlette_400(users: Mapping[str, str]) -> Starlette:
    """An app that answers an unknown id with a 400 and its own headers."""

    async def user(request: Request) -> Response:
        user_id = request.path_params["user_id"]
        if user_id not in users:
            return JSONResponse({"detail": "unknown user"}, status_code=400, headers={"x-api-version": "3"})
        return JSONResponse({"id": user_id, "name": users[user_id]}, headers={"x-api-version": "3"})

    return Starlette(routes=[Route("/users/{user_id}", user)])


def starlette_signed_in(users: Mapping[str, str]) -> Starlette:
    """An app that answers nobody who is not signed in (401), and unknown ids with its own 404."""

    async def user(request: Request) -> Response:
        if "x-account-id" not in request.headers:
            return JSONResponse({"error": "sign in"}, status_code=401)
        user_id = request.path_params["user_id"]
        if user_id not in users:
            return JSONResponse({"error": "no such user"}, status_code=404)
        return JSONResponse({"id": user_id, "name": users[user_id]})

    return Starlette(routes=[Route("/users/{user_id}", user)])


def starlette_hashed(users: Mapping[str, str]) -> Starlette:
    """An app whose "not found" names a lookup number derived from the id, not the id."""

    async def user(request: Request) -> Response:
        user_id = request.path_params["user_id"]
        if user_id not in users:
            return JSONResponse({"error": f"lookup {sum(map(ord, user_id)) * 31} failed"}, status_code=404)
        return JSONResponse({"id": user_id, "name": users[user_id]})

    return Starlette(routes=[Route("/users/{user_id}", user)])


named = fastapi_named(USERS)
hashed = starlette_hashed(USERS)
plain = fastapi_plain(USERS)
starlette = starlette_plain(USERS)
bad_request = starlette_400(USERS)
signed_in = starlette_signed_in(USERS)
