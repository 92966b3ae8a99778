"""Cache leaks (issue 13, class 5): an answer that depends on who asks is never stored for
anyone else, and a conditional request never answers 304 for a body the viewer may not see.

Before this was fixed, every test here but the last two failed: the app's validators
and `Cache-Control` passed through with no `Vary`, and `If-None-Match` reached the app.
"""

from __future__ import annotations

import pytest

from safe_accounts.policy.model import HeaderIdentity, JwtIdentity, ScopeUserIdentity

from .conftest import ACCOUNTS, POLICY
from .responses import ADULTS_ONLY, LISTING, MINORS, Answer, Canned, Wrap, call, wrap

__all__ = ["wrap"]  # the fixture, used by name

CACHEABLE = [
    (b"content-type", b"application/json"),
    (b"etag", b'"v1"'),
    (b"last-modified", b"Wed, 21 Oct 2026 07:28:00 GMT"),
    (b"cache-control", b"public, max-age=600, s-maxage=3600"),
    (b"cdn-cache-control", b"max-age=3600"),
    (b"vary", b"Accept-Encoding"),
]
CARD_ROUTE = """
  - name: card
    method: GET
    path: /api/accounts/{account}/card
    action: profile_view
    targets: [{path: account}]
  - name: followers
    method: GET
    path: /api/accounts/{account}/followers
    action: discovery
    response: {items: "results[*]", id: id}
"""
WITH_CARD = POLICY.replace("routes:\n", "routes:" + CARD_ROUTE, 1)


def assert_private(answer: Answer, *, max_age: bool = True) -> None:
    assert answer.header("etag") is None
    assert answer.header("last-modified") is None
    assert answer.header("cdn-cache-control") is None
    directives = {d.strip().partition("=")[0].lower() for d in (answer.header("cache-control") or "").split(",")}
    assert "private" in directives
    assert not directives & {"public", "s-maxage"}
    assert ("max-age" in directives) is max_age
    varies = {v.strip().lower() for v in (answer.header("vary") or "").split(",")}
    assert "x-account-id" in varies


async def test_a_filtered_list_is_private_to_its_viewer(wrap: Wrap) -> None:
    answer = await call(wrap(Canned(headers=CACHEABLE)), "GET", "/api/search", "adult")
    assert not answer.listed() & MINORS
    assert_private(answer)
    assert "accept-encoding" in (answer.header("vary") or "").lower()  # the app's own Vary stays


async def test_an_answer_this_viewer_sees_unchanged_is_private_too(wrap: Wrap) -> None:
    # Nothing is filtered for this viewer, but another viewer's copy of the same URL differs.
    answer = await call(wrap(Canned(headers=CACHEABLE, chunks=(ADULTS_ONLY,))), "GET", "/api/search", "adult")
    assert answer.body == ADULTS_ONLY
    assert_private(answer)


async def test_an_answer_without_caching_headers_becomes_private(wrap: Wrap) -> None:
    answer = await call(wrap(Canned()), "GET", "/api/search", "adult")
    assert_private(answer, max_age=False)


async def test_a_parents_view_of_their_childs_profile_is_not_stored_for_others(wrap: Wrap) -> None:
    profile = b'{"id": "kid", "name": "Kid", "location": "Leeds", "school": "Park High"}'
    answer = await call(wrap(Canned(headers=CACHEABLE, chunks=(profile,))), "GET", "/api/accounts/kid", "parent")
    assert b"Leeds" in answer.body
    assert_private(answer)


async def test_a_profile_route_the_app_answers_alone_is_private_too(wrap: Wrap) -> None:
    # No response shape: the app's answer passes as it is, but only some viewers may have it.
    answer = await call(
        wrap(Canned(headers=CACHEABLE, chunks=(b"{}",)), WITH_CARD), "GET", "/api/accounts/kid/card", "parent"
    )
    assert answer.status == 200
    assert_private(answer)


class Revalidating(Canned):
    """An app that honours validators: `If-None-Match: "v1"` or any `If-Modified-Since` is a 304."""

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        headers = dict(scope["headers"])
        if headers.get(b"if-none-match") == b'"v1"' or b"if-modified-since" in headers:
            self.seen.append(scope)
            await send({"type": "http.response.start", "status": 304, "headers": [(b"etag", b'"v1"')]})
            await send({"type": "http.response.body", "body": b""})
            return
        await super().__call__(scope, receive, send)


@pytest.mark.parametrize(
    "condition",
    [("if-none-match", '"v1"'), ("if-modified-since", "Wed, 21 Oct 2026 07:28:00 GMT")],
)
async def test_a_conditional_request_never_gets_a_304_for_a_list_the_viewer_may_not_see(
    wrap: Wrap, condition: tuple[str, str]
) -> None:
    app = Revalidating(headers=CACHEABLE)
    answer = await call(wrap(app), "GET", "/api/search", "adult", [condition])
    assert answer.status == 200
    assert answer.listed() == set(ACCOUNTS) - MINORS
    assert app.asked(condition[0]) == []


async def test_the_apps_validators_cannot_be_probed_on_a_profile(wrap: Wrap) -> None:
    # `If-Match` answered 412 or 200 would tell whether a guessed unredacted body is the app's.
    app = Revalidating(headers=CACHEABLE, chunks=(b'{"id": "teen", "location": "Leeds"}',))
    await call(wrap(app), "GET", "/api/accounts/teen", "adult", [("if-match", '"v1"'), ("if-unmodified-since", "x")])
    assert app.asked("if-match") == [] and app.asked("if-unmodified-since") == []


async def test_a_write_on_a_personal_route_keeps_its_preconditions(wrap: Wrap) -> None:
    # `If-Match` on a PUT guards a lost update and reveals nothing: it reaches the app.
    both = WITH_CARD.replace(
        "    method: GET\n    path: /api/accounts/{account}/card",
        "    method: [GET, PUT]\n    path: /api/accounts/{account}/card",
    )
    assert both != WITH_CARD
    app = Revalidating(headers=CACHEABLE, chunks=(b'{"id": "parent"}',))
    await call(wrap(app, both), "PUT", "/api/accounts/parent/card", "parent", [("if-match", '"v1"')])
    assert app.asked("if-match") == ['"v1"']
    await call(wrap(app, both), "GET", "/api/accounts/parent/card", "adult", [("if-match", '"v1"')])
    assert app.asked("if-match") == []


def test_vary_names_every_way_the_policy_identifies_a_viewer() -> None:
    from safe_accounts.pipeline.caching import vary_of

    assert vary_of(()) == (b"authorization", b"cookie")  # scope_user: the app's own authentication
    assert vary_of((ScopeUserIdentity(source="scope_user"),)) == (b"authorization", b"cookie")
    assert vary_of((HeaderIdentity(source="header", header="X-Account-Id", trusted_proxies=("10.0.0.0/8",)),)) == (
        b"x-account-id",
    )
    assert vary_of((JwtIdentity(source="jwt", key_env="K", cookie="session"),)) == (b"authorization", b"cookie")
    # A token in the query is in the URL, which every cache already keys on.
    assert vary_of((JwtIdentity(source="jwt", key_env="K", header=None, query="token"),)) == ()


# --- what must not change -------------------------------------------------------------------


async def test_routes_the_policy_does_not_know_keep_their_caching_headers(wrap: Wrap) -> None:
    app = Revalidating(headers=CACHEABLE)
    answer = await call(wrap(app), "GET", "/hello", "adult", [("if-none-match", '"v1"')])
    assert answer.status == 304
    assert answer.header("etag") == '"v1"'


async def test_monitor_mode_leaves_caching_headers_alone(wrap: Wrap) -> None:
    monitor = WITH_CARD.replace("name: test-app\n", "name: test-app\nmode: monitor\n")
    answer = await call(wrap(Canned(headers=CACHEABLE), monitor), "GET", "/api/accounts/parent/followers", "adult")
    assert answer.body == LISTING
    assert answer.header("etag") == '"v1"'
    assert answer.header("cache-control") == "public, max-age=600, s-maxage=3600"


async def test_a_hidden_profile_is_not_stored_for_anyone_else(wrap: Wrap) -> None:
    # A stranger's 404 served from a cache to the child's parent would hide the child from them.
    answer = await call(wrap(Canned(headers=CACHEABLE)), "GET", "/api/accounts/young", "adult")
    assert answer.status == 404
    assert_private(answer, max_age=False)
