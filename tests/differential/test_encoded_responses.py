"""Class 1 of issue 13, encoded responses: with compression inside the app (Chirp: Starlette's
GZip around a deflate middleware of its own), a stranger who asks for an encoding must not
get a child in a search, a suggestion or a follower list, nor a child's unredacted or hidden
profile, in any encoding and any way of asking for one.

Judged by the bytes the client receives, decoded as a client decodes them (gzip, deflate,
several codings in a row): no minor's handle or name in a list, no minor's location or
school in a profile, no under-13's profile at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from .apps import chirp
from .harness import Raw, Reply, Subject, Unreadable, header, leaks
from .spellings import accept_encodings

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
GZIP = (header("accept-encoding", "gzip"),)
DEFLATE = (header("accept-encoding", "deflate"),)


@dataclass(frozen=True)
class View:
    """A page and what a stranger may not read in it."""

    path: str
    query: str
    listed: bool  # a list of people: no minor may be in it
    profile_of: str | None = None  # a minor's profile: no private field (and no name if hidden)

    def forbidden(self, subject: Subject) -> set[str]:
        if self.listed:
            return {v for p in subject.minors() for v in (p.id, p.name)}
        person = subject.people[self.profile_of or ""]
        hidden = person.band == "under_13"
        return set(person.private) | ({person.name} if hidden else set())


VIEWS = [
    View("/api/search", "", listed=True),
    View("/api/search", "q=i", listed=True),
    View("/api/suggestions", "", listed=True),
    View("/api/users/ann_adult/followers", "", listed=True),
    View("/api/users/rex_stranger/followers", "", listed=True),
    View("/api/users/ann_adult", "", listed=True),  # an adult's profile lists its followers
    View("/api/users/kid_mia", "", listed=False, profile_of="kid_mia"),
    View("/api/users/kid_leo", "", listed=False, profile_of="kid_leo"),
    View("/api/users/teen_ivy", "", listed=False, profile_of="teen_ivy"),
    View("/api/users/anon_zed", "", listed=False, profile_of="anon_zed"),
]
STRANGERS = [chirp.STRANGER, chirp.ADULT_FRIEND, None]  # None: not signed in


def request(view: View, viewer: str | None, encodings: tuple[tuple[bytes, bytes], ...]) -> Raw:
    identity = (chirp.session(viewer),) if viewer is not None else ()
    return Raw("GET", view.path, view.query, headers=(*identity, *encodings))


def readable_leaks(reply: Reply, forbidden: set[str]) -> set[str]:
    try:
        return leaks(reply, forbidden)
    except Unreadable as exc:
        pytest.fail(f"the client got {exc}: nothing can be proved about what it holds")


@SETTINGS
@given(view=st.sampled_from(VIEWS), viewer=st.sampled_from(STRANGERS), encodings=accept_encodings())
@example(view=VIEWS[0], viewer=chirp.STRANGER, encodings=GZIP)
@example(view=VIEWS[3], viewer=chirp.STRANGER, encodings=DEFLATE)
@example(view=VIEWS[6], viewer=None, encodings=GZIP)
@example(view=VIEWS[7], viewer=chirp.STRANGER, encodings=DEFLATE)
async def test_a_stranger_reads_no_child_in_any_encoding_the_app_answers_in(
    chirp_app: Subject, view: View, viewer: str | None, encodings: tuple[tuple[bytes, bytes], ...]
) -> None:
    pair = await chirp_app.both(request(view, viewer, encodings))
    forbidden = view.forbidden(chirp_app)
    assert leaks(pair.bare, forbidden), "the bare app shows the child: the example tests nothing"
    event(f"the bare app answered {pair.bare.header('content-encoding') or 'identity'}")
    leaked = readable_leaks(pair.wrapped, forbidden)
    assert not leaked, (
        f"{view.path}?{view.query} as {viewer} with {encodings}: got {pair.wrapped.status} "
        f"{pair.wrapped.header('content-encoding') or 'identity'} showing {sorted(leaked)}"
    )


@pytest.mark.parametrize(
    "encodings", [GZIP, DEFLATE, (header("accept-encoding", "gzip, deflate, br"),)], ids=["gzip", "deflate", "all"]
)
@pytest.mark.parametrize("view", [v for v in VIEWS if v.listed], ids=lambda v: f"{v.path}?{v.query}")
async def test_a_compressed_list_still_shows_the_stranger_every_adult(
    chirp_app: Subject, view: View, encodings: tuple[tuple[bytes, bytes], ...]
) -> None:
    # Refusing the whole list would keep children out too; the adults must still be there.
    pair = await chirp_app.both(request(view, chirp.STRANGER, encodings))
    assert pair.wrapped.status == 200, pair.wrapped.body[:300]
    adults = {p.id for p in chirp_app.people.values() if not p.minor}
    assert leaks(pair.wrapped, adults) == leaks(pair.bare, adults)
