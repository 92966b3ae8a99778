"""A host app with its own token scheme (`Authorization: Token ID`), its own users table
(birth dates) and friendships, wrapped by SafeAccountsMiddleware in one of two orders:
inside its authentication (`right`), or outside it (`wrong`: every actor anonymous)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from safe_accounts import SafeAccountsMiddleware

POLICY = Path(os.environ["DOCTOR_POLICY"])
PEOPLE = {"parent": "Pat", "kid": "Kim", "stranger": "Sam", "young": "Yo"}
received: list[tuple[str, Any]] = []


class Tokens(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        scheme, _, account = conn.headers.get("authorization", "").partition(" ")
        if scheme != "Token" or account not in PEOPLE:
            return None
        return AuthCredentials(["authenticated"]), SimpleUser(account)


async def message(request: Request) -> JSONResponse:
    received.append(("message", await request.json()))
    return JSONResponse({"sent": True}, status_code=201)


async def profile(request: Request) -> Any:
    account = request.path_params["id"]
    received.append(("profile", account))
    if account not in PEOPLE:
        return PlainTextResponse("Not Found", status_code=404)
    return JSONResponse({"id": account, "name": PEOPLE[account], "school": "Park High"})


async def search(request: Request) -> JSONResponse:
    return JSONResponse({"results": [{"id": a, "name": n} for a, n in PEOPLE.items()]})


ROUTES = [
    Route("/api/messages", message, methods=["POST"]),
    Route("/api/users/{id}", profile),
    Route("/api/search", search),
]
AUTH = Middleware(AuthenticationMiddleware, backend=Tokens())
PROTECT = Middleware(SafeAccountsMiddleware, policy=POLICY)

# Starlette runs the first middleware listed outermost.
right = Starlette(routes=ROUTES, middleware=[AUTH, PROTECT])
wrong = Starlette(routes=ROUTES, middleware=[PROTECT, AUTH])
bare = Starlette(routes=ROUTES, middleware=[AUTH])
