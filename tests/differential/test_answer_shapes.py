"""Class 11 of issue 13, answers a client reads another way: Chirp's search and follower
lists written as apps really write them sometimes, each read by a client in a way the
middleware did not read it.

- as PHP writes a filtered array (`array_filter`, then `json_encode`): a list while its
  positions run 0, 1, 2..., an object (`{"0": ..., "3": ...}`) once a search skips one;
  and as a map keyed by handle (`Object.values` shows it as a list);
- with a key written twice, as JSON built from string templates is (`{"results": [...],
  "results": []}`, a card whose `handle` is written again by a later fragment): parsers
  disagree on which value wins, and the bytes hold both;
- the handles alone when the client asks for only them (`?fields=handle`):
  `{"results": ["kid_mia", ...]}`;
- in another shape when the client asks for one (`Accept: application/x-ndjson`, one card
  a line; `Accept: application/vnd.chirp.v2+json`, `{"users": [...]}`; `...v3+json`, each
  card inside a `user`): the list, or its ids, not where the policy says;
- a profile as rows (`[{...}]`) when the client asks for them
  (`Accept: application/vnd.chirp.rows+json`), as REST layers over a table answer;
- in UTF-16 when the client asks for it (`Accept-Charset`), and with half an emoji in a
  name (`"\\ud83d"`, a JavaScript app's `slice` through a surrogate pair).

Judged by the bytes the client receives: no minor's handle or name in a list, no minor's
private fields in a profile, and every adult the bare app shows.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response

from .apps import chirp
from .conftest import open_chirp
from .harness import Raw, Reply, Subject, header, leaks

HALF_AN_EMOJI = "\ud83d"


def php_array(items: list[Any]) -> Any:
    """`json_encode(array_filter(...))`: a list while the kept positions run 0..n-1."""
    return [item for _, item in items] if [i for i, _ in items] == list(range(len(items))) else {
        str(i): item for i, item in items
    }


class Templated(chirp.Chirp):
    """Chirp, its search and follower lists written in the ways above."""

    async def search(self, request: Request) -> Response:
        q = request.query_params.get("q", "").lower()
        everyone = await self.cards("SELECT handle FROM people ORDER BY handle")
        kept = [(i, c) for i, c in enumerate(everyone) if q in c["handle"].lower() or q in c["name"].lower()]
        found = [c for _, c in kept]
        accept = request.headers.get("accept", "")
        if "x-ndjson" in accept:
            return Response("".join(json.dumps(c) + "\n" for c in found), media_type="application/x-ndjson")
        if "vnd.chirp.v2" in accept:
            return Response(json.dumps({"users": found, "count": len(found)}), media_type="application/json")
        if "vnd.chirp.v3" in accept:  # each card inside the account it describes
            return Response(json.dumps({"results": [{"user": c} for c in found]}), media_type="application/json")
        if request.headers.get("accept-charset") == "utf-16":
            text = json.dumps({"results": found}, ensure_ascii=False)
            return Response(text.encode("utf-16"), media_type="application/json; charset=utf-16")
        if request.query_params.get("fields") == "handle":  # a sparse answer: the handles alone
            return Response(json.dumps({"results": [c["handle"] for c in found]}), media_type="application/json")
        if request.query_params.get("style") == "php":
            return Response(json.dumps({"results": php_array(kept)}), media_type="application/json")
        if request.query_params.get("style") == "template":
            # The page's template, then the viewer's page spliced in after it.
            return Response('{"results": ' + json.dumps(found) + ', "results": []}', media_type="application/json")
        if request.query_params.get("style") == "js":
            cards = [{**c, "name": c["name"][:3] + HALF_AN_EMOJI} for c in found]
            return Response(json.dumps({"results": cards}), media_type="application/json")
        return Response(json.dumps({"results": found}), media_type="application/json")

    async def profile(self, request: Request) -> Response:
        answer = await super().profile(request)
        if answer.status_code == 200 and "vnd.chirp.rows" in request.headers.get("accept", ""):
            # Rows, as a REST layer over a table answers unless asked for one object.
            return Response(b"[" + bytes(answer.body) + b"]", media_type="application/json")
        return answer

    async def followers(self, request: Request) -> Response:
        handle = request.path_params["handle"]
        cards = await self.followers_of(handle)
        if request.query_params.get("style") == "template":
            parts = ", ".join(
                f'{{"handle": {json.dumps(c["handle"])}, "name": {json.dumps(c["name"])}, "handle": "ann_adult"}}'
                for c in cards
            )
            return Response(f'{{"followers": [{parts}]}}', media_type="application/json")
        # A map keyed by handle, as a JavaScript app keeps its people.
        return Response(json.dumps({"followers": {c["handle"]: c for c in cards}}), media_type="application/json")


@pytest.fixture
async def templated(tmp_path: Path, migrated: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Subject]:
    async for subject in open_chirp(Templated, tmp_path, migrated, monkeypatch):
        yield subject


def as_stranger(path: str, query: str = "", *headers: tuple[bytes, bytes]) -> Raw:
    return Raw("GET", path, query, headers=(chirp.session(chirp.STRANGER), *headers))


def children(subject: Subject) -> set[str]:
    return {v for p in subject.minors() for v in (p.id, p.name)}


def adults(subject: Subject) -> set[str]:
    return {p.id for p in subject.people.values() if not p.minor}


def problem_type(reply: Reply) -> str:
    return str(json.loads(reply.body)["type"]).rsplit("/", 1)[-1]


@pytest.mark.parametrize(
    "raw",
    [
        as_stranger("/api/search", "q=i&style=php"),
        as_stranger("/api/search", "q=a&style=php"),
        as_stranger("/api/users/ann_adult/followers"),
    ],
    ids=["php-search-i", "php-search-a", "followers-by-handle"],
)
async def test_a_list_the_app_answers_as_an_object_is_filtered_by_its_values(templated: Subject, raw: Raw) -> None:
    pair = await templated.both(raw)
    assert isinstance(next(iter(pair.bare.document().values())), dict), "the app answered a list: tests nothing"
    assert leaks(pair.bare, children(templated)), "the bare app shows no child: the example tests nothing"
    assert pair.wrapped.status == 200, pair.wrapped.body
    assert not leaks(pair.wrapped, children(templated))
    assert leaks(pair.wrapped, adults(templated)) == leaks(pair.bare, adults(templated))


async def test_a_list_of_bare_handles_is_filtered_as_the_accounts_they_name(templated: Subject) -> None:
    pair = await templated.both(as_stranger("/api/search", "fields=handle"))
    assert leaks(pair.bare, children(templated)), "the bare app shows no child: the example tests nothing"
    assert pair.wrapped.status == 200, pair.wrapped.body
    assert not leaks(pair.wrapped, children(templated))
    assert set(pair.wrapped.document()["results"]) == adults(templated)


@pytest.mark.parametrize(
    "raw",
    [as_stranger("/api/search", "style=template"), as_stranger("/api/users/ann_adult/followers", "style=template")],
    ids=["list-twice", "handle-twice"],
)
async def test_an_answer_with_a_key_written_twice_is_refused(templated: Subject, raw: Raw) -> None:
    await refused_as_unreadable(templated, raw)


@pytest.mark.parametrize(
    "raw",
    [
        as_stranger("/api/search", "q=mia", header("accept", "application/x-ndjson")),
        as_stranger("/api/search", "q=i", header("accept", "application/vnd.chirp.v2+json")),
        as_stranger("/api/search", "q=i", header("accept", "application/vnd.chirp.v3+json")),
    ],
    ids=["one-ndjson-line", "another-key", "cards-nested-deeper"],
)
async def test_an_answer_whose_list_is_not_where_the_policy_says_is_refused_when_it_names_a_child(
    templated: Subject, raw: Raw
) -> None:
    await refused_as_unreadable(templated, raw)


@pytest.mark.parametrize(
    "raw",
    [
        as_stranger("/api/search", "q=ann", header("accept", "application/x-ndjson")),
        as_stranger("/api/search", "q=nobody", header("accept", "application/vnd.chirp.v2+json")),
        as_stranger("/api/search", "q=ann", header("accept", "application/vnd.chirp.v3+json")),
    ],
    ids=["an-adults-ndjson-line", "an-empty-search", "an-adults-card-nested-deeper"],
)
async def test_an_answer_without_its_list_that_names_no_child_passes_as_the_app_sent_it(
    templated: Subject, raw: Raw
) -> None:
    pair = await templated.both(raw)
    assert pair.wrapped.status == 200
    assert pair.wrapped.body == pair.bare.body


async def test_a_list_the_app_wrote_in_utf16_is_written_back_in_utf16(templated: Subject) -> None:
    pair = await templated.both(as_stranger("/api/search", "", header("accept-charset", "utf-16")))
    # As a client that honours the charset (`requests`) reads it.
    bare, wrapped = (json.loads(r.body.decode("utf-16")) for r in (pair.bare, pair.wrapped))
    handles = {c["handle"] for c in bare["results"]}
    assert handles & children(templated), "the bare app shows no child: the example tests nothing"
    assert pair.wrapped.status == 200
    assert pair.wrapped.header("content-type") == "application/json; charset=utf-16"
    assert {c["handle"] for c in wrapped["results"]} == handles - children(templated)


async def test_a_name_with_half_an_emoji_does_not_break_a_filtered_list(templated: Subject) -> None:
    pair = await templated.both(as_stranger("/api/search", "style=js"))
    assert leaks(pair.bare, children(templated)), "the bare app shows no child: the example tests nothing"
    assert pair.wrapped.status == 200, pair.wrapped.body
    names = {c["handle"]: c["name"] for c in pair.wrapped.document()["results"]}
    assert set(names) == {c["handle"] for c in pair.bare.document()["results"]} - children(templated)
    assert names["ann_adult"] == "Ann" + HALF_AN_EMOJI



ROWS = header("accept", "application/vnd.chirp.rows+json")


async def test_a_childs_profile_answered_as_rows_is_refused_not_shown_unredacted(templated: Subject) -> None:
    pair = await templated.both(as_stranger("/api/users/kid_mia", "", ROWS))
    private = set(templated.people["kid_mia"].private)
    assert leaks(pair.bare, private), "the bare app shows nothing private: the example tests nothing"
    assert pair.wrapped.status == 502
    assert problem_type(pair.wrapped) == "unreadable-response"
    assert not leaks(pair.wrapped, private)


async def test_a_profile_answered_as_rows_with_a_child_among_its_followers_is_refused(templated: Subject) -> None:
    pair = await templated.both(as_stranger("/api/users/pat_parent", "", ROWS))
    assert leaks(pair.bare, children(templated)), "the bare app shows no child: the example tests nothing"
    assert pair.wrapped.status == 502
    assert not leaks(pair.wrapped, children(templated))


async def test_a_parent_reads_their_childs_profile_as_rows_as_the_app_sent_it(templated: Subject) -> None:
    raw = Raw("GET", "/api/users/kid_mia", "", headers=(chirp.session(chirp.PARENT), ROWS))
    pair = await templated.both(raw)
    assert pair.wrapped.status == 200
    assert pair.wrapped.body == pair.bare.body


async def refused_as_unreadable(templated: Subject, raw: Raw) -> None:
    """The bare app shows a child; the wrapped app refuses the answer (502) and shows none."""
    pair = await templated.both(raw)
    assert leaks(pair.bare, children(templated)), "the bare app shows no child: the example tests nothing"
    assert pair.wrapped.status == 502
    assert problem_type(pair.wrapped) == "unreadable-response"
    assert not leaks(pair.wrapped, children(templated))
