"""The JSON API of the bare demo app, end to end: what an API client (and, later, Safe
Accounts in front of the app) can rely on."""

from __future__ import annotations

import httpx
import pytest
from demo_support import ID, Login

PROBLEM = "application/problem+json"


def ids(response: httpx.Response) -> list[int]:
    return [item["id"] for item in response.json()["results"]]


def assert_problem(response: httpx.Response, status: int, detail_part: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["title"]
    assert detail_part in body["detail"]


# --- logging in -----------------------------------------------------------------------


async def test_login_gives_a_bearer_token_for_a_persona(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.post("/api/login", json={"handle": "mia"})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["account"] == {"id": ID["mia"], "handle": "mia", "display_name": "Mia Patel"}


async def test_login_with_an_unknown_handle_is_a_problem(anonymous: httpx.AsyncClient) -> None:
    assert_problem(await anonymous.post("/api/login", json={"handle": "nobody"}), 401, "nobody")


async def test_every_api_route_needs_a_login(anonymous: httpx.AsyncClient) -> None:
    assert_problem(await anonymous.get("/api/me"), 401, "log in")
    assert_problem(
        await anonymous.post("/api/messages", json={"to": 1, "text": "x"}), 401, "log in"
    )


async def test_a_forged_bearer_token_is_refused(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/api/me", headers={"authorization": "Bearer not.a.token"})
    assert_problem(response, 401, "invalid")


# --- profiles, lists, search, suggestions ---------------------------------------------


async def test_me_and_a_profile_have_the_same_shape(api: Login) -> None:
    mia = await api("mia")
    me = (await mia.get("/api/me")).json()
    leo = (await mia.get(f"/api/accounts/{ID['leo']}")).json()
    keys = {"id", "handle", "display_name", "location", "school", "birthday", "bio", "friends"}
    assert set(me) == set(leo) == keys
    assert me["id"] == ID["mia"] and me["school"] == "Riverside Academy"
    assert {"id": ID["mia"], "handle": "mia", "display_name": "Mia Patel"} in leo["friends"]
    assert leo["birthday"] == "2012-02-22"  # 14 years and 100 days before 2026-06-01


async def test_an_unknown_account_is_404(api: Login) -> None:
    assert_problem(await (await api("mia")).get("/api/accounts/999"), 404, "999")


@pytest.mark.parametrize(
    "path",
    [
        "/api/accounts/99999999999",
        "/api/accounts/99999999999/friends",
        "/api/conversations/99999999999",
    ],
)
async def test_ids_too_big_for_any_row_are_404_not_a_database_error(api: Login, path: str) -> None:
    assert_problem(await (await api("mia")).get(path), 404, "99999999999")


async def test_answering_a_request_id_too_big_for_any_row_is_404(api: Login) -> None:
    response = await (await api("mia")).post("/api/friend-requests/99999999999/accept")
    assert_problem(response, 404, "99999999999")


async def test_friends_and_followers_lists(api: Login) -> None:
    tom = await api("tom")
    assert ids(await tom.get(f"/api/accounts/{ID['mia']}/friends")) == [
        ID["ava"],
        ID["leo"],
        ID["ms_khan"],
        ID["sam"],
    ]
    assert ids(await tom.get(f"/api/accounts/{ID['tom']}/followers")) == [ID["stranger"]]


async def test_search_matches_handles_and_names_in_any_case(api: Login) -> None:
    stranger = await api("stranger")
    assert ids(await stranger.get("/api/search", params={"q": "PATEL"})) == [
        ID["leo"],
        ID["mia"],
        ID["sam"],
    ]
    assert ids(await stranger.get("/api/search", params={"q": "ms_k"})) == [ID["ms_khan"]]
    # `%` and `_` are text here, not wildcards.
    assert ids(await stranger.get("/api/search", params={"q": "%"})) == []


async def test_search_leaves_out_the_searcher(api: Login) -> None:
    mia = await api("mia")
    assert ID["mia"] not in ids(await mia.get("/api/search", params={"q": "a"}))


async def test_search_needs_a_query(api: Login) -> None:
    assert_problem(await (await api("mia")).get("/api/search"), 422, "`q`")


async def test_search_returns_at_most_50(api: Login, app) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from demo_app.tables import accounts

    async with app.state.runtime.engine.begin() as conn:
        await conn.execute(
            accounts.insert(),
            [
                {"handle": f"fan{i:02}", "display_name": f"Fan {i}", "birth_date": date(1990, 1, 1)}
                for i in range(60)
            ],
        )
    response = await (await api("mia")).get("/api/search", params={"q": "fan"})
    assert len(ids(response)) == 50


async def test_suggestions_put_friends_of_friends_first(api: Login) -> None:
    stranger = await api("stranger")
    suggested = ids(await stranger.get("/api/suggestions"))
    # Tom's friend Priya is the only friend of a friend; then everyone else, by id.
    assert suggested[0] == ID["priya"]
    assert suggested[1:] == sorted(set(ID.values()) - {ID["stranger"], ID["tom"], ID["priya"]})


async def test_suggestions_rank_by_mutual_friends(api: Login) -> None:
    dan = await api("dan")
    suggested = ids(await dan.get("/api/suggestions"))
    # Ms Khan shares Sam and Priya with Dan; Mia and Leo share only Sam.
    assert suggested[0] == ID["ms_khan"]
    assert ID["dan"] not in suggested and ID["sam"] not in suggested


# --- friend requests --------------------------------------------------------------------


async def test_a_friend_request_accepted_makes_friends_both_ways(api: Login) -> None:
    stranger, zoe = await api("stranger"), await api("zoe")
    sent = await stranger.post("/api/friend-requests", json={"to": ID["zoe"]})
    assert sent.status_code == 201
    request = sent.json()
    assert request["status"] == "pending"
    assert request["from"]["id"] == ID["stranger"] and request["to"]["id"] == ID["zoe"]

    incoming = (await zoe.get("/api/friend-requests")).json()["results"]
    assert [(r["id"], r["from"]["handle"]) for r in incoming] == [(request["id"], "stranger")]

    accepted = await zoe.post(f"/api/friend-requests/{request['id']}/accept")
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert ID["stranger"] in ids(await zoe.get(f"/api/accounts/{ID['zoe']}/friends"))
    assert ID["zoe"] in ids(await zoe.get(f"/api/accounts/{ID['stranger']}/friends"))
    assert (await zoe.get("/api/friend-requests")).json()["results"] == []


async def test_a_rejected_request_makes_no_friends_and_can_be_sent_again(api: Login) -> None:
    stranger, mia = await api("stranger"), await api("mia")
    request = (await stranger.post("/api/friend-requests", json={"to": str(ID["mia"])})).json()
    rejected = await mia.post(f"/api/friend-requests/{request['id']}/reject")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert ID["stranger"] not in ids(await mia.get(f"/api/accounts/{ID['mia']}/friends"))
    assert_problem(await mia.post(f"/api/friend-requests/{request['id']}/accept"), 409, "rejected")
    again = await stranger.post("/api/friend-requests", json={"to": ID["mia"]})
    assert again.status_code == 201 and again.json()["id"] != request["id"]


async def test_only_the_recipient_answers_a_request(api: Login) -> None:
    stranger, leo = await api("stranger"), await api("leo")
    request = (await stranger.post("/api/friend-requests", json={"to": ID["mia"]})).json()
    assert_problem(
        await leo.post(f"/api/friend-requests/{request['id']}/accept"), 404, "no friend request"
    )
    assert_problem(
        await stranger.post(f"/api/friend-requests/{request['id']}/accept"),
        404,
        "no friend request",
    )


@pytest.mark.parametrize(
    ("sender", "to", "status", "detail"),
    [
        ("mia", "mia", 422, "yourself"),
        ("mia", "leo", 409, "already friends"),
        ("sam", "priya", 409, "accept it instead"),  # Priya's request to Sam is pending
        ("mia", 999, 404, "999"),
    ],
)
async def test_friend_requests_that_make_no_sense_are_refused(
    api: Login, sender: str, to: str | int, status: int, detail: str
) -> None:
    client = await api(sender)
    target = ID[to] if isinstance(to, str) else to
    assert_problem(await client.post("/api/friend-requests", json={"to": target}), status, detail)


async def test_a_request_is_not_sent_twice(api: Login) -> None:
    priya = await api("priya")
    assert_problem(
        await priya.post("/api/friend-requests", json={"to": ID["sam"]}), 409, "already sent"
    )


@pytest.mark.parametrize("bad", [True, -3, 0, "abc", "1.5", 1.5, None, [1], 2**40])
async def test_ids_must_be_positive_numbers_or_numeric_strings(api: Login, bad: object) -> None:
    response = await (await api("stranger")).post("/api/friend-requests", json={"to": bad})
    assert_problem(response, 422, "`to`")


async def test_a_body_that_is_not_a_json_object_is_a_problem(api: Login) -> None:
    client = await api("stranger")
    assert_problem(await client.post("/api/follows", content=b"{nope"), 400, "JSON")
    assert_problem(await client.post("/api/follows", json=[1]), 422, "object")


# --- follows ------------------------------------------------------------------------------


async def test_following_twice_is_one_follow(api: Login) -> None:
    stranger = await api("stranger")
    first = await stranger.post("/api/follows", json={"to": ID["ava"]})
    second = await stranger.post("/api/follows", json={"to": str(ID["ava"])})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["followed"]["handle"] == "ava"
    assert ids(await stranger.get(f"/api/accounts/{ID['ava']}/followers")) == [ID["stranger"]]


# --- messages ---------------------------------------------------------------------------


async def test_a_direct_message_starts_then_reuses_one_conversation(api: Login) -> None:
    dan, priya = await api("dan"), await api("priya")
    first = await dan.post("/api/messages", json={"to": ID["priya"], "text": "  hello  "})
    assert first.status_code == 201
    message = first.json()
    assert message["text"] == "hello" and message["from"]["handle"] == "dan"
    reply = (await priya.post("/api/messages", json={"to": str(ID["dan"]), "text": "hi!"})).json()
    assert reply["conversation_id"] == message["conversation_id"]

    chat = (await priya.get(f"/api/conversations/{message['conversation_id']}")).json()
    assert chat["kind"] == "direct" and chat["title"] is None
    assert [p["id"] for p in chat["participants"]] == [ID["dan"], ID["priya"]]
    assert [m["text"] for m in chat["messages"]] == ["hello", "hi!"]


async def test_the_seeded_direct_chat_is_reused(api: Login) -> None:
    ava = await api("ava")
    seeded = [
        c for c in (await ava.get("/api/conversations")).json()["results"] if c["kind"] == "direct"
    ]
    sent = (await ava.post("/api/messages", json={"to": ID["mia"], "text": "see you"})).json()
    assert sent["conversation_id"] == seeded[0]["id"]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"to": 5}, 422, "`text`"),
        ({"to": 5, "text": "   "}, 422, "`text`"),
        ({"to": 5, "text": "x" * 2001}, 422, "2000"),
        ({"to": 5, "text": 7}, 422, "text"),
        ({"text": "hi"}, 422, "`to`"),
        ({"to": 10, "text": "hi"}, 422, "yourself"),
        ({"to": 999, "text": "hi"}, 404, "999"),
    ],
)
async def test_bad_messages_are_refused(api: Login, body: dict, status: int, detail: str) -> None:  # type: ignore[type-arg]
    assert_problem(await (await api("stranger")).post("/api/messages", json=body), status, detail)


async def test_a_group_chat_is_created_grown_and_written_to(api: Login) -> None:
    sam, mia, ms_khan = await api("sam"), await api("mia"), await api("ms_khan")
    created = await sam.post(
        "/api/conversations",
        json={"participants": [ID["mia"], str(ID["leo"]), ID["mia"]], "title": "Trip"},
    )
    assert created.status_code == 201
    group = created.json()
    assert group["kind"] == "group" and group["title"] == "Trip"
    assert [p["id"] for p in group["participants"]] == [ID["mia"], ID["leo"], ID["sam"]]
    assert group["messages"] == [] and group["last_message"] is None

    added = await sam.post(
        f"/api/conversations/{group['id']}/participants", json={"account": ID["ms_khan"]}
    )
    assert added.status_code == 201
    again = await sam.post(
        f"/api/conversations/{group['id']}/participants", json={"account": ID["ms_khan"]}
    )
    assert again.status_code == 200

    posted = await ms_khan.post(
        f"/api/conversations/{group['id']}/messages", json={"text": "Forms by Friday"}
    )
    assert posted.status_code == 201 and posted.json()["conversation_id"] == group["id"]
    mine = (await mia.get("/api/conversations")).json()["results"]
    trip = next(c for c in mine if c["id"] == group["id"])
    assert trip["last_message"]["text"] == "Forms by Friday"
    assert trip["last_message"]["from"]["handle"] == "ms_khan"


async def test_a_group_has_a_default_title_and_needs_someone_else(api: Login) -> None:
    sam = await api("sam")
    made = await sam.post("/api/conversations", json={"participants": [ID["dan"]]})
    assert made.json()["title"] == "Group chat"
    assert_problem(
        await sam.post("/api/conversations", json={"participants": [ID["sam"]]}),
        422,
        "at least one",
    )
    assert_problem(
        await sam.post("/api/conversations", json={"participants": []}), 422, "at least one"
    )


async def test_outsiders_cannot_see_or_write_to_a_conversation(api: Login) -> None:
    sam, stranger = await api("sam"), await api("stranger")
    family = next(
        c for c in (await sam.get("/api/conversations")).json()["results"] if c["kind"] == "group"
    )
    assert_problem(await stranger.get(f"/api/conversations/{family['id']}"), 404, "no conversation")
    response = await stranger.post(
        f"/api/conversations/{family['id']}/messages", json={"text": "hi"}
    )
    assert_problem(response, 404, "no conversation")
    response = await stranger.post(
        f"/api/conversations/{family['id']}/participants", json={"account": 10}
    )
    assert_problem(response, 404, "no conversation")


async def test_nobody_is_added_to_a_direct_conversation(api: Login) -> None:
    dan = await api("dan")
    dm = (await dan.post("/api/messages", json={"to": ID["sam"], "text": "pint?"})).json()
    response = await dan.post(
        f"/api/conversations/{dm['conversation_id']}/participants", json={"account": ID["priya"]}
    )
    assert_problem(response, 422, "group")


# --- blocks and reports -------------------------------------------------------------------


async def test_a_block_cuts_every_way_of_reaching_the_blocker(api: Login) -> None:
    stranger, tom = await api("stranger"), await api("tom")
    dm = (await stranger.post("/api/messages", json={"to": ID["tom"], "text": "hey"})).json()
    blocked = await tom.post("/api/blocks", json={"account": ID["stranger"]})
    assert blocked.status_code == 201 and blocked.json()["blocked"]["handle"] == "stranger"
    assert (await tom.post("/api/blocks", json={"account": ID["stranger"]})).status_code == 200

    assert_problem(
        await stranger.post("/api/messages", json={"to": ID["tom"], "text": "?"}),
        403,
        "cannot message",
    )
    response = await stranger.post(
        f"/api/conversations/{dm['conversation_id']}/messages", json={"text": "?"}
    )
    assert_problem(response, 403, "cannot message")
    assert_problem(
        await stranger.post("/api/friend-requests", json={"to": ID["tom"]}), 403, "cannot"
    )
    assert_problem(
        await stranger.post("/api/follows", json={"to": ID["tom"]}), 403, "cannot follow"
    )
    assert_problem(await stranger.get(f"/api/accounts/{ID['tom']}"), 404, "no account")
    assert ID["tom"] not in ids(await stranger.get("/api/search", params={"q": "tom"}))
    assert ID["tom"] not in ids(await stranger.get("/api/suggestions"))
    # The friendship and the follow between them are gone.
    assert ID["stranger"] not in ids(await tom.get(f"/api/accounts/{ID['tom']}/friends"))
    assert ids(await tom.get(f"/api/accounts/{ID['tom']}/followers")) == []


async def test_a_block_closes_pending_requests(api: Login) -> None:
    stranger, ava = await api("stranger"), await api("ava")
    await stranger.post("/api/friend-requests", json={"to": ID["ava"]})
    await ava.post("/api/blocks", json={"account": str(ID["stranger"])})
    assert (await ava.get("/api/friend-requests")).json()["results"] == []


async def test_a_report_is_recorded_with_its_reason(api: Login) -> None:
    mia = await api("mia")
    response = await mia.post(
        "/api/reports", json={"account": ID["stranger"], "reason": "asked where I live"}
    )
    assert response.status_code == 201
    report = response.json()
    assert report["reporter"] == ID["mia"] and report["account"]["handle"] == "stranger"
    assert report["reason"] == "asked where I live"
    assert_problem(
        await mia.post("/api/reports", json={"account": ID["stranger"]}), 422, "`reason`"
    )
    assert_problem(
        await mia.post("/api/reports", json={"account": ID["mia"], "reason": "x"}), 422, "yourself"
    )


async def test_an_unreachable_database_is_a_503_problem() -> None:
    # (An SQLite file that cannot be opened is a 503 too, but aiosqlite's worker thread then
    # outlives the test's event loop and fails noisily, so only the server case is here.)
    from demo_support import SECRET

    from demo_app.app import Settings, create_app

    url = "postgresql+asyncpg://postgres@127.0.0.1:1/none"
    app = create_app(Settings(url, SECRET, create_tables=False))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as c,
    ):
        assert_problem(await c.post("/api/login", json={"handle": "mia"}), 503, "not reachable")


async def test_unknown_routes_and_methods_are_problems_too(api: Login) -> None:
    client = await api("mia")
    assert_problem(await client.get("/api/nothing-here"), 404, "")
    assert_problem(await client.delete("/api/messages"), 405, "")
