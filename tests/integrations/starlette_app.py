"""Starlette with its own token scheme (`Authorization: Token ...`): docs/integrations.md.

The app authenticates with its own AuthenticationMiddleware; the policy names the actor with
`account_of`, a callable identity source reading the same token, so the order of the two
middlewares does not matter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser, requires
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from safe_accounts import SafeAccountsMiddleware

from .world import IDS, profile_of, search_results

POLICY = Path(__file__).parent / "policies" / "starlette.yaml"
TOKENS = {f"token-{name}": number for name, number in IDS.items()}  # the app's own sessions
delivered: list[dict[str, Any]] = []


def token_owner(authorization: str) -> int | None:
    scheme, _, token = authorization.partition(" ")
    return TOKENS.get(token) if scheme == "Token" else None


class TokenAuth(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        owner = token_owner(conn.headers.get("authorization", ""))
        return None if owner is None else (AuthCredentials(["authenticated"]), SimpleUser(str(owner)))


def account_of(scope: dict[str, Any], headers: Headers) -> str | None:
    """The identity source: `policy: identity: [{source: callable, callable: "...:account_of"}]`."""
    owner = token_owner(headers.get("authorization", ""))
    return None if owner is None else str(owner)


@requires("authenticated")
async def send_message(request: Request) -> JSONResponse:
    delivered.append(await request.json())
    return JSONResponse({"sent": True}, status_code=201)


@requires("authenticated")
async def profile(request: Request) -> Any:
    found = profile_of(request.path_params["user_id"])
    return PlainTextResponse("Not Found", status_code=404) if found is None else JSONResponse(found)


@requires("authenticated")
async def search(request: Request) -> JSONResponse:
    return JSONResponse({"results": search_results()})


app = Starlette(
    routes=[
        Route("/api/messages", send_message, methods=["POST"]),
        Route("/api/users/{user_id:int}", profile),
        Route("/api/search", search),
    ],
    middleware=[
        Middleware(AuthenticationMiddleware, backend=TokenAuth()),
        Middleware(SafeAccountsMiddleware, policy=POLICY),
    ],
)


async def sign_in(name: str) -> dict[str, str]:
    """The headers of a request signed in as `name` (tests)."""
    return {"authorization": f"Token token-{name}"}
