"""The demo app's "people you may know" behind Safe Accounts (policies/demo.yaml marks it
`discovery: suggestions`): a child is suggested the adults they share friends with, never
the ones they share none with - the stranger among them - while the child's search still
finds the stranger by name, and an adult's suggestions are as the app made them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from demo_support import BASE, ID, POLICY, SECRET, Login
from starlette.applications import Starlette

from demo_app.app import serve_pages_through
from safe_accounts import SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock


@pytest.fixture
async def wrapped(
    app: Starlette,
    database_url: str,
    clock: FrozenClock,
    clients: list[httpx.AsyncClient],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Login]:
    """The demo app behind Safe Accounts with policies/demo.yaml, as wrapped.py wires it."""
    monkeypatch.setenv("DEMO_APP_SECRET", SECRET)
    middleware = SafeAccountsMiddleware(app, policy=POLICY, database_url=database_url, clock=clock)
    serve_pages_through(app, middleware)
    await middleware.start()

    async def login(handle: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url=BASE)
        clients.append(client)
        assert (await client.post("/login", data={"handle": handle})).status_code == 303
        return client

    yield login
    await middleware.close()


async def suggested(client: httpx.AsyncClient) -> set[int]:
    response = await client.get("/api/suggestions")
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["results"]}


async def test_leo_is_suggested_his_fathers_and_teachers_friends_not_the_stranger(wrapped: Login) -> None:
    leo = await wrapped("leo")
    # Dan is his father's friend, Priya his teacher's; Tom, Jo and Alex Turner (the
    # stranger) share no friend with him. The app lists them all.
    assert await suggested(leo) == {ID["dan"], ID["priya"]}
    home = (await leo.get("/")).text
    people = home[home.index("People you may know") :]
    assert "Dan Brooks" in people and "Alex Turner" not in people


async def test_mia_still_finds_the_stranger_by_searching_his_name(wrapped: Login) -> None:
    found = (await (await wrapped("mia")).get("/api/search", params={"q": "turner"})).json()["results"]
    assert [item["id"] for item in found] == [ID["stranger"]]


async def test_an_adults_suggestions_are_as_the_app_made_them(wrapped: Login) -> None:
    # Dan is suggested every adult he does not know yet, friends in common or not; the
    # children he does not know are gone (minors-out-of-stranger-discovery).
    dan = await suggested(await wrapped("dan"))
    assert {ID["ms_khan"], ID["tom"], ID["stranger"], ID["jo"]} <= dan
    assert not dan & {ID["zoe"], ID["ava"]}
