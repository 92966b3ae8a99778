"""Adding a child to an existing conversation is a way to message them (the brief's list of
evasions): a platform whose API has such a route lists it as a `direct_message` with the
added member as its target, and then a stranger cannot add a child, while a parent can add
their own child, and the strangers already in that conversation still cannot write to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock
from safe_accounts.db import migrate
from safe_accounts.db.engine import make_engine
from tests.middleware.conftest import POLICY, HostApp, seed

ADD_MEMBER_ROUTE = """
  - name: conversation-add-member
    method: POST
    path: /api/v1/conversations/{conversation}/members
    action: direct_message
    targets: [{json: member}, {json: "members[*]"}]
"""


@pytest.fixture
async def client(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[httpx.AsyncClient]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.rstrip("\n") + "\n" + ADD_MEMBER_ROUTE.strip("\n") + "\n")  # one more route
    url = f"sqlite+aiosqlite:///{tmp_path / 'members.db'}"
    await migrate.upgrade_url(url)
    engine = make_engine(url)
    await seed(engine, clock)

    async def add_member(request: Request) -> JSONResponse:
        body = await request.json()
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO host_members VALUES (:c, :m)"),
                {"c": request.path_params["conversation"], "m": body["member"]},
            )
        return JSONResponse({"added": True}, status_code=201)

    host = HostApp().build()
    host.router.routes.insert(0, Route("/api/v1/conversations/{conversation}/members", add_member, methods=["POST"]))
    middleware = SafeAccountsMiddleware(host, policy=policy, database_url=url, clock=clock, signals=None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://t") as c:
        yield c
    await middleware.close()
    await engine.dispose()


async def _members(client: httpx.AsyncClient, conversation: str, actor: str, body: object) -> int:
    response = await client.post(
        f"/api/v1/conversations/{conversation}/members", json=body, headers={"x-account-id": actor}
    )
    return response.status_code


async def test_a_stranger_cannot_add_a_child_to_a_conversation(client: httpx.AsyncClient) -> None:
    assert await _members(client, "c-adults", "adult", {"member": "kid"}) == 403
    assert await _members(client, "c-adults", "adult", {"members": ["other-adult", "young"]}) == 403


async def test_a_parent_adds_their_child_and_strangers_in_the_room_still_cannot_write(
    client: httpx.AsyncClient,
) -> None:
    # "c-parent-room" holds the parent and an adult who is a stranger to the child.
    assert await _members(client, "c-parent-room", "parent", {"member": "other-adult"}) == 201
    assert await _members(client, "c-parent-room", "parent", {"member": "kid"}) == 201
    # The room now has the child in it: the stranger's message to it is refused.
    stranger = await client.post(
        "/api/v2/conversations/c-parent-room/messages", json={"text": "hi"}, headers={"x-account-id": "other-adult"}
    )
    assert stranger.status_code == 403
    family = await client.post(
        "/api/v2/conversations/c-parent-room/messages", json={"text": "hi"}, headers={"x-account-id": "parent"}
    )
    assert family.status_code == 201
