"""Litestar, signed in with a bearer JWT: docs/integrations.md. The whole app is wrapped, so
the middleware sees every request before Litestar routes it."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import jwt
from litestar import Litestar, Request, get, post
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.params import FromPath, JSONBody

from safe_accounts import SafeAccountsMiddleware

from .world import IDS, profile_of, search_results

POLICY = Path(__file__).parent / "policies" / "litestar.yaml"
delivered: list[dict[str, Any]] = []


def signed_in(request: Request[Any, Any, Any]) -> int:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        if scheme != "Bearer":
            raise jwt.InvalidTokenError("not a bearer token")
        return int(jwt.decode(token, os.environ["RECIPE_JWT_KEY"], algorithms=["HS256"])["sub"])
    except (jwt.InvalidTokenError, KeyError):
        raise NotAuthorizedException() from None


@dataclass
class Message:
    to: int
    text: str


@post("/api/messages", status_code=201)
async def send_message(data: JSONBody[Message], request: Request[Any, Any, Any]) -> dict[str, bool]:
    signed_in(request)
    delivered.append(asdict(data))
    return {"sent": True}


@get("/api/users/{user_id:int}")
async def profile(user_id: FromPath[int], request: Request[Any, Any, Any]) -> dict[str, Any]:
    signed_in(request)
    found = profile_of(user_id)
    if found is None:
        raise NotFoundException()
    return found


@get("/api/search")
async def search(request: Request[Any, Any, Any]) -> dict[str, Any]:
    signed_in(request)
    return {"results": search_results()}


litestar_app = Litestar(route_handlers=[send_message, profile, search])
app = SafeAccountsMiddleware(litestar_app, policy=POLICY)


async def sign_in(name: str) -> dict[str, str]:
    claims = {"sub": str(IDS[name]), "exp": int(time.time()) + 3600}  # the middleware requires an expiry
    token = jwt.encode(claims, os.environ["RECIPE_JWT_KEY"], algorithm="HS256")
    return {"authorization": f"Bearer {token}"}
