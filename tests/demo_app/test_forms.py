"""The HTML forms' routes (`POST /web/...`): the same actions as the API, from form fields,
answered with a redirect for a plain post and `{"location": ...}` for the pages' script."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from demo_support import ID, Login

from demo_app.forms import back_to, with_notice

SCRIPT = {"accept": "application/json"}


def notice_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["notice"][0]


async def test_a_plain_form_post_redirects_back_with_a_notice(browser: Login, api: Login) -> None:
    stranger = await browser("stranger")
    response = await stranger.post(
        "/web/friend-requests", data={"to": str(ID["ava"]), "next": "/search?q=ava"}
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/search?q=ava&notice=")
    assert notice_of(location) == "Friend request sent to Ava Jones."
    incoming = (await (await api("ava")).get("/api/friend-requests")).json()["results"]
    assert [r["from"]["handle"] for r in incoming] == ["stranger"]


async def test_the_pages_script_gets_the_next_location_as_json(browser: Login) -> None:
    dan = await browser("dan")
    response = await dan.post(
        "/web/messages", data={"to": ID["priya"], "text": "hi"}, headers=SCRIPT
    )
    assert response.status_code == 201
    location = response.json()["location"]
    assert location.startswith("/conversations/") and notice_of(location) == "Message sent."


async def test_a_refusal_is_a_problem_for_the_script(browser: Login) -> None:
    mia = await browser("mia")
    response = await mia.post("/web/messages", data={"to": ID["mia"], "text": "me"}, headers=SCRIPT)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "you cannot message yourself"


async def test_a_refusal_is_a_page_for_a_plain_post(browser: Login) -> None:
    mia = await browser("mia")
    response = await mia.post("/web/messages", data={"to": ID["mia"], "text": "me"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "you cannot message yourself" in response.text


async def test_a_form_post_without_a_session_goes_to_log_in(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.post("/web/follows", data={"to": "1"})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    response = await anonymous.post("/web/follows", data={"to": "1"}, headers=SCRIPT)
    assert response.status_code == 401 and response.json()["title"] == "Not logged in"


async def test_answering_a_request_from_a_page(browser: Login) -> None:
    sam = await browser("sam")
    pending = (await sam.get("/api/friend-requests")).json()["results"][0]
    response = await sam.post(f"/web/friend-requests/{pending['id']}/accept", data={"next": "/"})
    assert notice_of(response.headers["location"]) == "You and Priya Shah are now friends."
    assert ID["priya"] in [f["id"] for f in (await sam.get("/api/me")).json()["friends"]]


async def test_a_group_from_checkboxes_then_add_and_post(browser: Login) -> None:
    sam = await browser("sam")
    made = await sam.post(
        "/web/conversations",
        data={"participants": [str(ID["dan"]), str(ID["ms_khan"])], "title": "Parents' evening"},
        headers=SCRIPT,
    )
    assert made.status_code == 201
    conversation = urlsplit(made.json()["location"]).path
    chat_id = int(conversation.rsplit("/", 1)[1])
    added = await sam.post(
        f"/web/conversations/{chat_id}/participants", data={"account": ID["mia"]}, headers=SCRIPT
    )
    assert added.status_code == 201
    posted = await sam.post(
        f"/web/conversations/{chat_id}/messages", data={"text": "7pm"}, headers=SCRIPT
    )
    assert posted.status_code == 201
    chat = (await sam.get(f"/api/conversations/{chat_id}")).json()
    assert chat["title"] == "Parents' evening"
    assert {p["handle"] for p in chat["participants"]} == {"sam", "dan", "ms_khan", "mia"}
    assert [m["text"] for m in chat["messages"]] == ["7pm"]


async def test_block_and_report_from_a_profile(browser: Login) -> None:
    ava = await browser("ava")
    reported = await ava.post(
        "/web/reports", data={"account": ID["stranger"], "reason": "creepy"}, headers=SCRIPT
    )
    assert reported.status_code == 201
    blocked = await ava.post(
        "/web/blocks", data={"account": ID["stranger"], "next": "/accounts/10"}, headers=SCRIPT
    )
    # After a block there is nothing to go back to: home.
    assert urlsplit(blocked.json()["location"]).path == "/"
    follow = await ava.post("/web/follows", data={"to": ID["stranger"]}, headers=SCRIPT)
    assert follow.status_code == 403


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/accounts/3", "/accounts/3"),
        ("/search?q=a", "/search?q=a"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
        (None, "/"),
        (["/a", "/b"], "/"),
    ],
)
def test_forms_only_return_to_pages_of_this_site(given: object, expected: str) -> None:
    assert back_to(given) == expected


def test_a_notice_replaces_an_earlier_one() -> None:
    assert with_notice("/search?q=a&notice=old", "new") == "/search?q=a&notice=new"
