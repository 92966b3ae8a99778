"""FastAPI with routers, dependencies and typed ids, signed in by a JWT cookie:
docs/integrations.md."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Cookie, Depends, FastAPI, HTTPException
from pydantic import BaseModel

from safe_accounts import SafeAccountsMiddleware

from .world import IDS, profile_of, search_results

POLICY = Path(__file__).parent / "policies" / "fastapi.yaml"
delivered: list[dict[str, Any]] = []


def signed_in(session: Annotated[str | None, Cookie()] = None) -> int:
    try:
        claims = jwt.decode(session or "", os.environ["RECIPE_JWT_KEY"], algorithms=["HS256"])
    except jwt.InvalidTokenError:
        raise HTTPException(status_code=401, detail="Not signed in") from None
    return int(claims["sub"])


Me = Annotated[int, Depends(signed_in)]


class Message(BaseModel):
    to: int
    text: str


messages = APIRouter(prefix="/api/messages", tags=["messages"])


@messages.post("", status_code=201)
async def send_message(message: Message, me: Me) -> dict[str, bool]:
    delivered.append(message.model_dump())
    return {"sent": True}


people = APIRouter(prefix="/api", dependencies=[Depends(signed_in)])


@people.get("/users/{user_id}")
async def profile(user_id: int) -> dict[str, Any]:
    found = profile_of(user_id)
    if found is None:
        raise HTTPException(status_code=404, detail="Not Found")
    return found


@people.get("/search")
async def search(q: str = "") -> dict[str, Any]:
    return {"results": search_results()}


app = FastAPI()
app.include_router(messages)
app.include_router(people)
# After every other add_middleware: the last added runs first. FastAPI's own 404 shape
# is what a hidden profile answers (told from the app under the middleware).
app.add_middleware(SafeAccountsMiddleware, policy=POLICY)


async def sign_in(name: str) -> dict[str, str]:
    claims = {"sub": str(IDS[name]), "exp": int(time.time()) + 3600}  # the middleware requires an expiry
    token = jwt.encode(claims, os.environ["RECIPE_JWT_KEY"], algorithm="HS256")
    return {"cookie": f"session={token}"}
