"""An answer that depends on who asks is private to the viewer: no shared cache keeps one
viewer's answer for another, and the app is never asked to revalidate it."""

from __future__ import annotations

from safe_accounts.pipeline.caching import personalise, unconditional, vary_of
from safe_accounts.policy.model import HeaderIdentity, ScopeUserIdentity


def test_the_answer_is_made_private_and_varies_on_what_names_the_viewer() -> None:
    headers = personalise(
        [
            (b"content-type", b"application/json"),
            (b"cache-control", b"public, max-age=60, s-maxage=600"),
            (b"etag", b'"v1"'),
            (b"last-modified", b"Sat, 05 Dec 2026 08:00:00 GMT"),
            (b"vary", b"Accept-Encoding"),
        ],
        (b"cookie",),
    )
    assert (b"content-type", b"application/json") in headers
    assert (b"cache-control", b"private, max-age=60") in headers
    assert not any(k in (b"etag", b"last-modified") for k, _ in headers)
    assert (b"vary", b"Accept-Encoding, cookie") in headers


def test_a_request_to_a_personal_route_loses_its_conditions() -> None:
    scope = {"type": "http", "headers": [(b"if-none-match", b'"v1"'), (b"range", b"bytes=0-9"), (b"x-a", b"1")]}
    assert unconditional(scope)["headers"] == [(b"x-a", b"1")]
    assert scope["headers"][0] == (b"if-none-match", b'"v1"')  # a copy: the original is left alone
    plain = {"type": "http", "headers": [(b"x-a", b"1")]}
    assert unconditional(plain) is plain


def test_what_names_the_viewer_comes_from_the_policys_identity() -> None:
    assert vary_of([HeaderIdentity(source="header", header="X-Account-Id", trusted_proxies=("127.0.0.1/32",))]) == (
        b"x-account-id",
    )
    assert vary_of([ScopeUserIdentity(source="scope_user")]) == (b"authorization", b"cookie")
    assert vary_of([]) == (b"authorization", b"cookie")  # the app's own authentication
