"""The recipes of docs/integrations.md, each a small app wrapped by the middleware, driven
by the same end-to-end checks: a stranger's DM to a child refused, a connected parent's
allowed, search filtered, a young child's profile hidden as the app hides an absent one."""

from __future__ import annotations

from .conftest import Recipe
from .world import IDS


async def test_a_strangers_message_to_a_child_is_refused_and_never_delivered(recipe: Recipe) -> None:
    answer = await recipe.client.post(
        "/api/messages", json={"to": IDS["kid"], "text": "hi"}, headers=await recipe.sign_in("stranger")
    )
    assert answer.status_code == 403, answer.text
    assert answer.json()["rule"] == "stranger-dm-to-minor"
    assert recipe.delivered == []


async def test_a_connected_parents_message_to_her_child_is_delivered(recipe: Recipe) -> None:
    answer = await recipe.client.post(
        "/api/messages", json={"to": IDS["kid"], "text": "dinner at 6"}, headers=await recipe.sign_in("parent")
    )
    assert answer.status_code == 201, answer.text
    assert recipe.delivered == [{"to": IDS["kid"], "text": "dinner at 6"}]


async def test_search_hides_children_from_a_stranger_not_from_their_parent(recipe: Recipe) -> None:
    def found(answer: object) -> set[int]:
        return {int(item["id"]) for item in answer.json()["results"]}  # type: ignore[attr-defined]

    stranger = await recipe.client.get("/api/search?q=a", headers=await recipe.sign_in("stranger"))
    assert stranger.status_code == 200, stranger.text
    assert found(stranger) == {IDS["parent"], IDS["stranger"]}
    parent = await recipe.client.get("/api/search?q=a", headers=await recipe.sign_in("parent"))
    assert IDS["kid"] in found(parent) and IDS["young"] not in found(parent)


async def test_a_young_childs_profile_is_hidden_from_a_stranger_as_if_absent(recipe: Recipe) -> None:
    headers = await recipe.sign_in("stranger")
    hidden = await recipe.client.get(f"/api/users/{IDS['young']}", headers=headers)
    absent = await recipe.client.get("/api/users/999999", headers=headers)
    assert hidden.status_code == 404
    assert (hidden.content, hidden.headers.get("content-type")) == (absent.content, absent.headers.get("content-type"))
    parent = await recipe.client.get(f"/api/users/{IDS['kid']}", headers=await recipe.sign_in("parent"))
    assert parent.status_code == 200 and parent.json()["name"] == "Kid"


async def test_no_spelling_of_the_young_childs_id_serves_her_profile_to_a_stranger(recipe: Recipe) -> None:
    # FastAPI and Litestar read `+4` and `04` as 4; Starlette's and Django's int convertors
    # do not match them at all. Either way the profile never reaches the stranger.
    headers = await recipe.sign_in("stranger")
    for spelling in ("4", "04", "+4", "%2B4", "4%20"):
        answer = await recipe.client.get(f"/api/users/{spelling}", headers=headers)
        assert answer.status_code != 200 and b"Young" not in answer.content, (spelling, answer.status_code)
