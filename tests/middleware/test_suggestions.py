"""A child's suggestions (`adult-strangers-out-of-minor-suggestions`, issue 14): an app's
"people you may know" list, on a route the policy marks `discovery: suggestions`, loses the
adults the child shares no friends with; the child's connections and adults with a friend
in common stay. Only suggestions: the child's search still finds an adult stranger by name.

The cast (conftest): "parent" is the child "kid"'s connection, "other-adult" is a friend of
"parent" (one friend in common with "kid"), "adult" shares nothing with "kid"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock

from .conftest import POLICY, Wrapped, drop_host_tables, seed

SUGGESTIONS_POLICY = POLICY + (
    "  - name: suggestions\n"
    "    method: GET\n"
    "    path: /api/suggestions\n"
    "    action: discovery\n"
    "    discovery: suggestions\n"
    '    response: {items: "results[*]", id: id, notice_field: safety_notice}\n'
)
# What the app proposes to everyone: every account it has but the viewer.
PROPOSED = ["adult", "parent", "other-adult", "kid", "kid-friend", "teen"]


class Suggesting:
    """A host app with a "people you may know" list and a search, both listing everyone."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def build(self) -> Starlette:
        async def people(request: Request) -> JSONResponse:
            viewer = request.headers.get("x-account-id", "")
            self.asked.append(request.url.path)
            return JSONResponse({"results": [{"id": a, "name": a.title()} for a in PROPOSED if a != viewer]})

        return Starlette(routes=[Route("/api/suggestions", people), Route("/api/search", people)])


@pytest.fixture
async def suggesting(
    engine: AsyncEngine, database_url: str, tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[Wrapped]:
    await seed(engine, clock)
    policy = tmp_path / "policy.yaml"
    policy.write_text(SUGGESTIONS_POLICY)
    host = Suggesting()
    middleware = SafeAccountsMiddleware(
        host.build(), policy=policy, database_url=database_url, clock=clock, signals=None
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://testserver") as client:
        yield Wrapped(host, middleware, client)
    await middleware.close()
    await drop_host_tables(engine)


def listed(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["results"]]


async def test_a_childs_suggestions_omit_adult_strangers_and_keep_connected_adults_and_friends_of_friends(
    suggesting: Wrapped,
) -> None:
    # The stranger adult is dropped, as is the minor "teen" the child is not connected with
    # (minors-out-of-stranger-discovery); the parent, the parent's friend and the child's
    # friend stay.
    assert listed(await suggesting.get("/api/suggestions", "kid")) == ["parent", "other-adult", "kid-friend"]
    rows = await suggesting.decisions()
    assert {(r["rule"], r["outcome"], r["target_id"]) for r in rows} >= {
        ("adult-strangers-out-of-minor-suggestions", "filter", "adult")
    }


async def test_the_same_list_a_second_time_is_judged_alike_from_the_caches(suggesting: Wrapped) -> None:
    first = listed(await suggesting.get("/api/suggestions", "kid"))
    assert listed(await suggesting.get("/api/suggestions", "kid")) == first


async def test_a_childs_search_still_finds_the_adult_stranger(suggesting: Wrapped) -> None:
    found = await suggesting.get("/api/search", "kid")
    items = {item["id"]: item for item in found.json()["results"]}
    assert "adult" in items
    # ... with the safety notice a child sees on an adult they share no friends with.
    assert items["adult"]["safety_notice"]["kind"] == "no_mutual_connections"


async def test_an_adults_suggestions_keep_adult_strangers(suggesting: Wrapped) -> None:
    # "other-adult" shares no friend with "adult": adults are suggested to adults as before.
    assert listed(await suggesting.get("/api/suggestions", "adult")) == ["parent", "other-adult"]
