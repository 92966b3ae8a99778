"""Class 5 of issue 13, cache leaks: Chirp marks its lists and profiles
`Cache-Control: public, max-age=60` with an `ETag` and a `Last-Modified`, and answers
`If-None-Match` with a 304. Through the middleware those answers depend on who asks (a
stranger's list has no children in it, a parent's has theirs), so:

- no shared cache may keep one viewer's answer for another: `private`, no `public` or
  `s-maxage`, and `Vary` on the header that names the viewer (Chirp's session cookie);
- no validator of the app's whole body survives (`ETag`, `Last-Modified`), and a stranger
  who sends the app's validator back gets the filtered body, never a 304 that lets a cache
  hand them the whole one.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from .apps import chirp
from .harness import Raw, Reply, Subject, header, leaks
from .spellings import accept_encodings
from .test_encoded_responses import STRANGERS, VIEWS, View, request

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def directives(reply: Reply) -> set[str]:
    return reply.tokens("cache-control")


def assert_private_to_the_viewer(reply: Reply, app_etag: str | None) -> None:
    assert "private" in directives(reply), reply.headers
    assert not directives(reply) & {"public", "s-maxage"}, reply.headers
    assert reply.header("etag") is None or reply.header("etag") != app_etag, "the app's ETag of the whole body"
    assert reply.header("last-modified") is None, reply.headers
    assert "cookie" in reply.tokens("vary"), reply.headers


@SETTINGS
@given(view=st.sampled_from(VIEWS), viewer=st.sampled_from([*STRANGERS, chirp.PARENT]), encodings=accept_encodings())
@example(view=VIEWS[0], viewer=chirp.STRANGER, encodings=(header("accept-encoding", "gzip"),))
@example(view=VIEWS[6], viewer=chirp.PARENT, encodings=(header("accept-encoding", "identity"),))
async def test_an_answer_that_depends_on_the_viewer_is_never_shared(
    chirp_app: Subject, view: View, viewer: str | None, encodings: tuple[tuple[bytes, bytes], ...]
) -> None:
    pair = await chirp_app.both(request(view, viewer, encodings))
    assert "public" in directives(pair.bare), "the app does not ask to be cached: the example tests nothing"
    # Whatever the answer - the list, a redacted profile, a hidden one's 404 - another viewer's differs.
    assert_private_to_the_viewer(pair.wrapped, pair.bare.header("etag"))


@SETTINGS
@given(view=st.sampled_from([v for v in VIEWS if v.path != "/api/suggestions"]), viewer=st.sampled_from(STRANGERS),
       condition=st.sampled_from(["if-none-match", "if-none-match-list", "if-none-match-weak"]))
@example(view=VIEWS[0], viewer=chirp.STRANGER, condition="if-none-match")
async def test_the_apps_validator_never_gets_a_stranger_a_304_for_what_they_may_not_see(
    chirp_app: Subject, view: View, viewer: str | None, condition: str
) -> None:
    # The app's validator of the whole body, as any earlier visitor (or a shared cache) got it.
    whole = await chirp_app.both(request(view, None, ()))
    etag = whole.bare.header("etag")
    assert etag is not None
    spellings = {"if-none-match": etag, "if-none-match-list": f'"other", {etag}', "if-none-match-weak": f"W/{etag}"}
    value = spellings[condition]
    raw = request(view, viewer, (header("if-none-match", value),))
    pair = await chirp_app.both(raw)
    if condition == "if-none-match":
        assert pair.bare.status == 304, "the app does not revalidate: the example tests nothing"
    assert pair.wrapped.status != 304, f"a 304 for {view.path} lets a cache serve the whole body it holds"
    forbidden = view.forbidden(chirp_app)
    assert not leaks(pair.wrapped, forbidden)


async def test_a_parents_view_of_their_child_is_not_served_to_the_next_visitor(chirp_app: Subject) -> None:
    raw = Raw("GET", f"/api/users/{chirp.CHILD}", headers=(chirp.session(chirp.PARENT),))
    pair = await chirp_app.both(raw)
    assert pair.wrapped.status == 200 and leaks(pair.wrapped, set(chirp.PEOPLE[chirp.CHILD].private))
    assert_private_to_the_viewer(pair.wrapped, pair.bare.header("etag"))
