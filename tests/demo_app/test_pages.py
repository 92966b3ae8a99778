"""The server-rendered pages: they render, they need a log-in, and they show what the
JSON API - reached through whatever is in front of the app - shows."""

from __future__ import annotations

import json

import httpx
import pytest
from demo_support import BASE, ID, Login
from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from demo_app.app import serve_pages_through


async def test_the_log_in_page_lists_every_persona(anonymous: httpx.AsyncClient) -> None:
    page = await anonymous.get("/login")
    assert page.status_code == 200
    for handle in ID:
        assert f'name="handle" value="{handle}"' in page.text
    assert "Log in as Alex Turner" in page.text


async def test_logging_in_sets_a_session_and_logging_out_ends_it(
    anonymous: httpx.AsyncClient,
) -> None:
    response = await anonymous.post("/login", data={"handle": "mia"})
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert "Hi Mia Patel" in (await anonymous.get("/")).text
    response = await anonymous.post("/logout")
    assert response.headers["location"] == "/login"
    assert (await anonymous.get("/")).headers["location"] == "/login"


async def test_logging_in_as_nobody_shows_why(anonymous: httpx.AsyncClient) -> None:
    page = await anonymous.post("/login", data={"handle": "nobody"})
    assert page.status_code == 401 and "there is no account with handle" in page.text


@pytest.mark.parametrize(
    "path", ["/", "/search", "/accounts/1", "/conversations", "/conversations/1"]
)
async def test_pages_send_strangers_to_log_in(anonymous: httpx.AsyncClient, path: str) -> None:
    response = await anonymous.get(path)
    assert response.status_code == 303 and response.headers["location"] == "/login"


async def test_home_shows_requests_friends_conversations_and_suggestions(browser: Login) -> None:
    page = (await browser("sam")).get("/")
    text = (await page).text
    assert "Priya Shah" in text and "/web/friend-requests/" in text and "/accept" in text
    assert "Mia Patel" in text  # a friend
    assert "Patel family" in text  # a conversation
    assert "People you may know" in text


async def test_search_page_lists_matches_with_actions(browser: Login) -> None:
    page = await (await browser("stranger")).get("/search", params={"q": "patel"})
    assert page.status_code == 200
    for name in ("Mia Patel", "Leo Patel", "Sam Patel"):
        assert name in page.text
    assert 'action="/web/friend-requests"' in page.text


async def test_profile_page_shows_the_profile_and_its_forms(browser: Login) -> None:
    page = await (await browser("stranger")).get(f"/accounts/{ID['zoe']}")
    assert page.status_code == 200
    assert "Zoe Clarke" in page.text and "Riverside Academy" in page.text
    for form in ('action="/web/messages"', 'action="/web/blocks"', 'action="/web/reports"'):
        assert form in page.text


async def test_an_unknown_profile_is_a_404_page(browser: Login) -> None:
    page = await (await browser("mia")).get("/accounts/999")
    assert page.status_code == 404 and "there is no account 999" in page.text


async def test_lists_and_conversations_render(browser: Login) -> None:
    sam = await browser("sam")
    friends = await sam.get(f"/accounts/{ID['mia']}/friends")
    assert friends.status_code == 200 and "Ava Jones" in friends.text
    followers = await sam.get(f"/accounts/{ID['sam']}/followers")
    assert "Dan Brooks" in followers.text
    chats = await sam.get("/conversations")
    assert "Patel family" in chats.text and 'name="participants"' in chats.text
    family = (await sam.get("/api/conversations")).json()["results"][0]
    chat = await sam.get(f"/conversations/{family['id']}")
    assert "Dinner at 6 tonight" in chat.text and 'name="account"' in chat.text


async def test_text_from_users_is_escaped(browser: Login) -> None:
    dan = await browser("dan")
    sent = await dan.post(
        "/api/messages", json={"to": ID["sam"], "text": "<script>alert(1)</script>"}
    )
    page = await dan.get(f"/conversations/{sent.json()['conversation_id']}")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_every_page_shows_refusals_from_a_form_post_in_place(browser: Login) -> None:
    page = await (await browser("mia")).get("/")
    # The notice area and the script that fills it from a problem's title and detail.
    assert 'id="notice"' in page.text
    assert 'headers: {"Accept": "application/json"}' in page.text
    assert "body.title" in page.text and "body.detail" in page.text


# --- pages read through the front door --------------------------------------------------


class Front:
    """Stands in for a middleware in front of the app: drops Mia from every list and
    refuses her profile, on the JSON API only."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.seen: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        self.seen.append(scope["path"])
        if scope["path"] == f"/api/accounts/{ID['mia']}":
            body = {"title": "Not found", "status": 404, "detail": "hidden in front of the app"}
            await send(
                {
                    "type": "http.response.start",
                    "status": 404,
                    "headers": [(b"content-type", b"application/problem+json")],
                }
            )
            await send({"type": "http.response.body", "body": json.dumps(body).encode()})
            return
        start: list[Message] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.append(message)
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        data = json.loads(b"".join(chunks))
        if isinstance(data, dict) and "results" in data:
            data["results"] = [r for r in data["results"] if r.get("id") != ID["mia"]]
        body = json.dumps(data).encode()
        headers = [(k, v) for k, v in start[0]["headers"] if k != b"content-length"]
        await send(
            {**start[0], "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        )
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
async def front(
    app: Starlette, clients: list[httpx.AsyncClient]
) -> tuple[Front, httpx.AsyncClient]:
    wrapped = Front(app)
    serve_pages_through(app, wrapped)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url=BASE)
    clients.append(client)
    assert (await client.post("/login", data={"handle": "stranger"})).status_code == 303
    return wrapped, client


async def test_search_page_shows_what_the_front_door_lets_through(
    front: tuple[Front, httpx.AsyncClient],
) -> None:
    wrapped, client = front
    page = await client.get("/search", params={"q": "patel"})
    assert "Leo Patel" in page.text and "Mia Patel" not in page.text
    assert "/api/search" in wrapped.seen


async def test_profile_page_shows_a_refusal_from_the_front_door(
    front: tuple[Front, httpx.AsyncClient],
) -> None:
    _, client = front
    page = await client.get(f"/accounts/{ID['mia']}")
    assert page.status_code == 404
    assert "hidden in front of the app" in page.text and "Riverside Academy" not in page.text


async def test_suggestions_on_the_home_page_go_through_the_front_door(
    front: tuple[Front, httpx.AsyncClient],
) -> None:
    wrapped, client = front
    page = await client.get("/")
    assert "Leo Patel" in page.text and "Mia Patel" not in page.text
    assert {"/api/me", "/api/suggestions", "/api/friend-requests", "/api/conversations"} <= set(
        wrapped.seen
    )
