"""Discovery and profiles: minors vanish from strangers' lists; their profiles are redacted or hidden."""

from __future__ import annotations

from .conftest import ACCOUNTS, Wrapped

MINORS = {"kid", "young", "teen", "kid-friend"}


async def test_a_stranger_searching_sees_no_minors(wrapped: Wrapped) -> None:
    response = await wrapped.get("/api/search?q=a", "adult")
    assert response.status_code == 200
    ids = {item["id"] for item in response.json()["results"]}
    assert ids == set(ACCOUNTS) - MINORS - {"adult"} | {"adult"} & ids
    assert not ids & MINORS
    assert int(response.headers["content-length"]) == len(response.content)
    assert "safe-accounts-decision" in response.headers


async def test_a_connected_adult_sees_only_the_child_they_know(wrapped: Wrapped) -> None:
    response = await wrapped.get("/api/search", "parent")
    ids = {item["id"] for item in response.json()["results"]}
    assert "kid" in ids
    assert not ids & (MINORS - {"kid"})


async def test_the_rest_of_the_response_is_untouched(wrapped: Wrapped) -> None:
    response = await wrapped.get("/api/search", "adult")
    assert response.json()["total"] == len(ACCOUNTS)


async def test_one_decision_row_per_rule_counts_the_filtered_accounts(wrapped: Wrapped) -> None:
    await wrapped.get("/api/search", "adult")
    rows = await wrapped.decisions()
    assert [(r["rule"], r["outcome"], r["affected"]) for r in rows] == [
        ("minors-out-of-stranger-discovery", "filter", len(MINORS))
    ]


async def test_a_child_sees_a_safety_notice_on_adults_with_no_mutual_friends(wrapped: Wrapped) -> None:
    response = await wrapped.get("/api/search", "kid")
    items = {item["id"]: item for item in response.json()["results"]}
    assert items["adult"]["safety_notice"]["kind"] == "no_mutual_connections"
    assert "safety_notice" not in items["parent"]  # a connection
    assert response.headers["safe-accounts-notice"] == "unknown-contact"


async def test_a_16_year_olds_profile_is_redacted_for_a_stranger(wrapped: Wrapped) -> None:
    response = await wrapped.get("/api/accounts/teen", "adult")
    assert response.status_code == 200
    profile = response.json()
    assert profile["name"] == "Teen"
    assert not {"location", "school", "friends"} & set(profile)
    assert int(response.headers["content-length"]) == len(response.content)


async def test_an_under_13_profile_is_hidden_from_an_adult_stranger(wrapped: Wrapped) -> None:
    response = await wrapped.get("/api/accounts/young", "adult")
    assert response.status_code == 404
    # The host is a Starlette app: its own "not found", with nothing of ours in it.
    assert response.text == "Not Found"
    assert "safe-accounts-decision" not in response.headers
    assert wrapped.reached("profile") == []


async def test_a_parent_sees_their_childs_whole_profile(wrapped: Wrapped) -> None:
    response = await wrapped.get("/api/accounts/kid", "parent")
    assert response.json()["location"] == "Leeds"


async def test_an_adults_profile_is_not_touched(wrapped: Wrapped) -> None:
    response = await wrapped.get("/api/accounts/other-adult", "adult")
    assert response.json()["school"] == "Park High"


async def test_a_childs_name_in_an_adults_friend_list_is_filtered_for_strangers(wrapped: Wrapped) -> None:
    response = await wrapped.get("/api/accounts/parent", "adult")
    assert [f["id"] for f in response.json()["friends"]] == ["other-adult"]
    assert int(response.headers["content-length"]) == len(response.content)


async def test_a_parent_sees_their_child_but_not_the_childs_friends_they_do_not_know(wrapped: Wrapped) -> None:
    response = await wrapped.get("/api/accounts/kid", "parent")
    profile = response.json()
    assert profile["location"] == "Leeds"  # connected: not redacted
    assert [f["id"] for f in profile["friends"]] == ["parent"]  # kid-friend is a minor the parent does not know


async def test_a_child_sees_their_own_name_in_their_parents_friend_list(wrapped: Wrapped) -> None:
    response = await wrapped.get("/api/accounts/parent", "kid")
    assert {f["id"] for f in response.json()["friends"]} == {"kid", "other-adult"}
