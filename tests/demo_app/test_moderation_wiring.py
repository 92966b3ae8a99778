"""What the demo app does with moderation: a suspension ends the account's sessions and its
log-in; behind Safe Accounts a child's pages show the safety notices the API carries (on an
incoming request, on an adult in a conversation); staff pages are linked for moderators."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from demo_support import BASE, ID, POLICY, SECRET, Login
from starlette.applications import Starlette

from demo_app.app import link_staff_page, serve_pages_through
from demo_app.service import suspensions
from safe_accounts import SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock

NO_FRIENDS_IN_COMMON = "You have no friends in common with this account."


async def _suspend(app: Starlette, handle: str) -> None:
    async with app.state.runtime.engine.begin() as conn:
        assert await suspensions.suspend(conn, ID[handle], by="moderator 11", now=1.0)
        assert not await suspensions.suspend(conn, ID[handle], by="moderator 11", now=2.0)


async def test_a_suspended_account_is_logged_out_and_cannot_log_in(
    app: Starlette, browser: Login, api: Login, anonymous: httpx.AsyncClient
) -> None:
    page, client = await browser("stranger"), await api("stranger")
    await _suspend(app, "stranger")
    home = await page.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/login"
    refused = await client.get("/api/me")
    assert refused.status_code == 401 and "suspended" in refused.json()["detail"]
    again = await anonymous.post("/api/login", json={"handle": "stranger"})
    assert again.status_code == 403 and again.json()["title"] == "Account suspended"
    listed = await anonymous.get("/login")
    assert "@stranger · stranger · suspended" in listed.text
    assert (await api("tom")).headers["authorization"]  # everyone else logs in as before


async def test_staff_pages_are_linked_for_moderators_only(app: Starlette, browser: Login) -> None:
    link_staff_page(app, "Moderation", "/moderation/")
    jo, tom = await browser("jo"), await browser("tom")
    assert '<a href="/moderation/" class="staff">Moderation</a>' in (await jo.get("/")).text
    assert "/moderation/" not in (await tom.get("/")).text


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


async def test_a_childs_incoming_request_from_a_stranger_carries_the_notice(wrapped: Login) -> None:
    stranger, zoe = await wrapped("stranger"), await wrapped("zoe")
    sent = await stranger.post("/web/friend-requests", data={"to": str(ID["zoe"])})
    assert sent.status_code == 303
    home = (await zoe.get("/")).text
    requests = home[home.index("<h2>Friend requests</h2>") : home.index("<h2>Friends</h2>")]
    assert "Alex Turner" in requests
    assert f'<span class="safety" role="note">{NO_FRIENDS_IN_COMMON}' in requests
    # Priya's pending request to Sam, an adult: no notice for adults.
    sam = (await (await wrapped("sam")).get("/")).text
    assert "Priya Shah" in sam and 'class="safety"' not in sam


async def test_a_childs_conversation_shows_the_notice_on_an_adult_they_share_no_friends_with(
    wrapped: Login,
) -> None:
    leo = await wrapped("leo")
    chats = (await leo.get("/api/conversations")).json()["results"]
    trip = next(c for c in chats if c["title"] == "Riverside trip")
    page = (await leo.get(f"/conversations/{trip['id']}")).text
    assert f'<strong>Tom Reid</strong>: {NO_FRIENDS_IN_COMMON}' in page
    assert "<strong>Ms Khan</strong>" not in page  # his teacher: a connection
    # The same group seen by the teacher, an adult: no notices.
    khan = await wrapped("ms_khan")
    assert 'class="safety"' not in (await khan.get(f"/conversations/{trip['id']}")).text
