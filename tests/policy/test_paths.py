"""Route templates and path normalisation: no spelling of a protected path escapes its route,
and whatever route Starlette's own router would serve, the table picks the same one."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.responses import PlainTextResponse
from starlette.routing import Route, Router, compile_path

from safe_accounts.errors import ConfigurationError
from safe_accounts.policy.paths import RouteTable, candidate_paths, compile_template, normalise


def http_scope(raw: str, method: str = "POST", root_path: str = "") -> dict:
    """A scope as uvicorn builds it: `path` is the raw path percent-decoded once."""
    return {
        "type": "http",
        "method": method,
        "path": root_path + unquote(raw),
        "raw_path": (root_path + raw).encode("latin-1"),
        "root_path": root_path,
        "query_string": b"",
        "headers": [],
    }


# --- templates ----------------------------------------------------------------------------


SAME_AS_STARLETTE = [
    "/", "/api/messages", "/users/{id}", "/users/{id:int}/friends", "/f/{p:path}", "/u/{x:uuid}",
    "/v/{x:float}", "/a.b/{name:str}-{n:int}", "/files/{rest:path}/meta",
]


@settings(max_examples=300, deadline=None)
@given(
    template=st.sampled_from(SAME_AS_STARLETTE),
    path=st.lists(
        st.sampled_from(["/", "api", "messages", "users", "friends", "f", "u", "v", "a.b", "files", "meta",
                         "7", "1.5", "1.", "-", "x", "12345678-1234-1234-1234-123456789abc", "\n"]),
        max_size=6,
    ).map("".join),
)
def test_templates_mean_what_they_mean_to_starlette(template: str, path: str) -> None:
    starlette_regex, _, convertors = compile_path(template)
    ours = compile_template(template)

    assert ours.params == tuple(convertors)
    assert bool(re.match(ours.pattern + "$", path)) == bool(starlette_regex.match(path))


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("/users/{id:number}", "unknown convertor 'number'"),
        ("/a/{x}/b/{x}", "parameter 'x' appears twice"),
        ("users/{id}", "must start with '/'"),
        ("/users/{id:}", "has a brace that is not a parameter"),
        ("/users/{1d}", "has a brace that is not a parameter"),
        ("/users/id}", "has a brace that is not a parameter"),
    ],
)
def test_a_template_that_cannot_work_is_refused_with_the_reason(template: str, reason: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(reason)):
        compile_template(template)


# --- normalisation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("/api/messages", "/api/messages"),
        ("/", "/"),
        ("", "/"),
        ("/api/messages/", "/api/messages"),
        ("//api///messages//", "/api/messages"),
        ("/api/./messages/.", "/api/messages"),
        ("/api/x/../messages", "/api/messages"),
        ("/../../api/messages", "/api/messages"),
        ("/api/%6Dessages", "/api/messages"),
        ("/api%2Fmessages", "/api/messages"),
        ("/api%252Fmessages", "/api/messages"),
        ("/api%25252fmessages", "/api/messages"),
        ("/api/%2e%2e/api/messages", "/api/messages"),
        ("/api/messages;v=1", "/api/messages"),
        ("/api;x/messages;y/", "/api/messages"),
        ("/api/..;/api/messages", "/api/messages"),
        ("/API/Messages", "/API/Messages"),  # case kept: matching ignores it instead
        ("api/messages", "/api/messages"),
    ],
)
def test_normalise_gives_the_canonical_spelling(spelling: str, canonical: str) -> None:
    assert normalise(spelling) == canonical


@given(
    st.lists(st.sampled_from(["/", "a", "B", ".", "..", "%", "2", "5", "F", "f", ";", "e"]), max_size=25).map("".join)
)
def test_normalise_is_idempotent_and_canonical(path: str) -> None:
    once = normalise(path)

    assert normalise(once) == once
    assert once.startswith("/")
    assert "//" not in once
    assert once == "/" or not once.endswith("/")
    assert not {"", ".", ".."} & set(once.split("/")[1:]) or once == "/"


# --- the route table: every spelling of a protected path ---------------------------------------

TABLE: RouteTable[str] = RouteTable(
    [
        ("POST", "/api/messages/{id:int}", "send"),
        (("POST", "PUT"), "/api/conversations", "new-conversation"),
        ("GET", "/api/users/{user}", "profile"),
        ("GET", "/files/{rest:path}", "files"),
        ("WEBSOCKET", "/ws/chat/{room}", "chat"),
    ]
)


@pytest.mark.parametrize(
    "raw",
    [
        "/api/messages/42",
        "/api/messages/42/",
        "//api//messages//42",
        "/api/./messages/42",
        "/api/x/../messages/42",
        "/../api/messages/42",
        "/API/Messages/42",
        "/api/messages;v=1/42",
        "/api/messages/42;jsessionid=abc",
        "/api/%6Dessages/42",
        "/api/messages/%34%32",
        "/api%2Fmessages%2F42",
        "/api%2fmessages/42",
        "/api%252Fmessages/42",
        "/api/%2e%2e/api/messages/42",
        "/api/messages/42%0A",
    ],
)
def test_every_spelling_of_a_protected_path_matches_its_route(raw: str) -> None:
    found = TABLE.match_scope(http_scope(raw))

    assert found is not None, raw
    assert found.payload == "send"
    assert found.params["id"].strip() == "42"


@pytest.mark.parametrize("root_path", ["/app", "/app/v1"])
def test_root_path_is_removed_before_matching(root_path: str) -> None:
    found = TABLE.match_scope(http_scope("/api/conversations", "PUT", root_path=root_path))

    assert found is not None and found.payload == "new-conversation"


def test_a_root_path_the_path_does_not_start_with_is_ignored() -> None:
    scope = {**http_scope("/api/conversations"), "root_path": "/elsewhere"}

    assert TABLE.match_scope(scope) is not None


def test_the_raw_path_is_a_spelling_of_its_own() -> None:
    # A server (or a proxy in front of it) that left `%2F` encoded in `path`.
    scope = {**http_scope("/x"), "path": "/api%2Fconversations", "raw_path": b"/api%2Fconversations"}

    assert TABLE.match_scope(scope).payload == "new-conversation"  # type: ignore[union-attr]
    assert list(candidate_paths(scope)) == ["/api/conversations"]


def test_candidate_paths_yields_each_distinct_spelling_once() -> None:
    scope = {**http_scope("/a/b"), "path": "/a/b", "raw_path": b"/a%252Fc"}

    assert list(candidate_paths(scope)) == ["/a/b", "/a/c"]


def test_captured_values_keep_their_case_while_literals_ignore_it() -> None:
    found = TABLE.match("GET", "/API/USERS/BobSmith/")

    assert found is not None
    assert found.params == {"user": "BobSmith"}


def test_head_matches_get_routes_and_other_methods_do_not() -> None:
    assert TABLE.match("HEAD", "/api/users/7").payload == "profile"  # type: ignore[union-attr]
    assert TABLE.match("DELETE", "/api/users/7") is None
    assert TABLE.match("GET", "/api/messages/7") is None


def test_websocket_scopes_match_websocket_routes() -> None:
    scope = {"type": "websocket", "path": "/ws/chat/kids", "raw_path": b"/ws/chat/kids", "root_path": ""}

    assert TABLE.match_scope(scope).params == {"room": "kids"}  # type: ignore[union-attr]


def test_paths_that_only_look_alike_do_not_match() -> None:
    for method, path in [
        ("POST", "/api/messages"),
        ("POST", "/api/messagesx/42"),
        ("POST", "/api/messages/42x"),
        ("POST", "/api/messages/42/extra"),
        ("POST", "/xapi/messages/42"),
        ("GET", "/api/users/"),
    ]:
        assert TABLE.match(method, path) is None, path


@pytest.mark.parametrize("order", ["literal first", "template first"])
def test_a_static_path_beats_a_template_in_whatever_order_they_are_written(order: str) -> None:
    routes = [("GET", "/users/me", "me"), ("GET", "/users/{id}", "by-id")]
    table = RouteTable(routes if order == "literal first" else routes[::-1])

    assert table.match("GET", "/users/me") == ("me", {})
    assert table.match("GET", "/USERS/me/") == ("me", {})
    assert table.match("GET", "/users/42") == ("by-id", {"id": "42"})


def test_a_literal_segment_beats_a_parameter_segment_by_segment() -> None:
    table = RouteTable(
        [
            ("GET", "/{user}/posts", "posts"),
            ("GET", "/static/{f:path}", "static"),
            ("GET", "/users/{id}/friends", "friends"),
            ("GET", "/users/me/friends", "my-friends"),
            ("GET", "/me/posts", "mine"),
        ]
    )

    assert table.match("GET", "/me/posts") == ("mine", {})
    assert table.match("GET", "/ME/posts/") == ("mine", {})
    assert table.match("GET", "/ann/posts") == ("posts", {"user": "ann"})
    assert table.match("GET", "/static/posts") == ("static", {"f": "posts"})
    assert table.match("GET", "/users/me/friends") == ("my-friends", {})
    assert table.match("GET", "/users/7/friends") == ("friends", {"id": "7"})


def test_among_equally_specific_routes_the_first_declared_wins_as_in_starlette() -> None:
    table = RouteTable([("GET", "/users/{id:int}", "number"), ("GET", "/users/{name}", "name")])

    assert table.match("GET", "/users/42") == ("number", {"id": "42"})
    assert table.match("GET", "/users/ann") == ("name", {"name": "ann"})


def test_a_path_starlette_serves_exactly_wins_over_a_case_folded_one() -> None:
    table = RouteTable([("GET", "/a/b", "literal"), ("GET", "/{x}/b", "param")])

    # Starlette serves /A/b with the parameter route; so do we.
    assert table.match("GET", "/A/b") == ("param", {"x": "A"})
    assert table.match("GET", "/a/b") == ("literal", {})


# --- never less inclusive than Starlette ---------------------------------------------------

TEMPLATES = [
    "/api/messages",
    "/api/messages/{id:int}",
    "/api/users/{user}",
    "/api/users/{user}/friends",
    "/Api/Upper",
    "/files/{rest:path}",
    "/v/{x:float}",
    "/{a}/{b}",
]


def _endpoint(index: int):  # type: ignore[no-untyped-def]
    async def endpoint(request):  # type: ignore[no-untyped-def]
        return PlainTextResponse(str(index))

    return endpoint


ROUTER = Router([Route(t, _endpoint(i), methods=["GET"]) for i, t in enumerate(TEMPLATES)])
OURS: RouteTable[int] = RouteTable(("GET", t, i) for i, t in enumerate(TEMPLATES))


def starlette_serves(scope: dict) -> int | None:
    """Which route Starlette's router answers with (None for 404, 405 or a redirect)."""
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(ROUTER(dict(scope), receive, send))
    if sent[0]["status"] != 200:
        return None
    return int(sent[1]["body"])


_PIECES = st.sampled_from(
    ["/", "api", "Api", "API", "messages", "users", "friends", "Upper", "upper", "files", "v",
     "7", "1.5", "x", "%2F", "%2f", "%25", "%0A", "..", ".", ";a", "//", "%41"]
)


@settings(max_examples=400, deadline=None)
@given(
    pieces=st.lists(_PIECES, max_size=8), root=st.sampled_from(["", "/mount"]), method=st.sampled_from(["GET", "HEAD"])
)
def test_whenever_starlette_serves_a_route_the_table_matches_the_same_one(
    pieces: list[str], root: str, method: str
) -> None:
    scope = http_scope("/" + "".join(pieces), method, root_path=root)

    served = starlette_serves(scope)
    found = OURS.match_scope(scope)

    if served is not None:
        assert found is not None and found.payload == served, (scope["path"], TEMPLATES[served])
