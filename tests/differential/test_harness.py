"""The harness itself: its judges catch an app with no protection in front of it, and it
reads encoded answers as a client does. A judge that passed an unprotected app would make
every other test here pass for nothing.
"""

from __future__ import annotations

import dataclasses
import gzip
import zlib

import pytest

from .apps import chirp, clubs, mesh
from .harness import Raw, Reply, Subject, Unreadable, header, leaks
from .test_encoded_responses import VIEWS
from .test_unread_targets import judge


def unprotected(subject: Subject) -> Subject:
    """The same app, with the bare app where the wrapped one should be."""
    return dataclasses.replace(subject, wrapped=subject.bare)


async def test_the_contact_judge_catches_a_stranger_reaching_a_child(clubs_app: Subject) -> None:
    raw = Raw("POST", "/dm", headers=(clubs.signed_in(clubs.STRANGER),), body=(b'{"to": "dee.kid"}',))
    await judge(clubs_app, raw, clubs.STRANGER)
    with pytest.raises(AssertionError, match="reached"):
        await judge(unprotected(clubs_app), raw, clubs.STRANGER)


async def test_the_contact_judge_sees_a_child_added_to_a_group(mesh_app: Subject) -> None:
    raw = Raw("POST", f"/api/v1/groups/{mesh.BOOK_CLUB}/members",
              headers=(mesh.bearer(mesh.STRANGER), header("content-type", "application/json")),
              body=(b'{"members": ["07001"]}',))
    _, truth = await unprotected(mesh_app).wrapped_only(raw)
    assert mesh_app.stranger_contact(truth, mesh.STRANGER) == {(mesh.STRANGER, mesh.CHILD)}
    # The adult already in the group reaches the child too, but he is no stranger to her.
    assert (mesh.ADULT_FRIEND, mesh.CHILD) in mesh_app.contacts(truth)


async def test_the_bytes_judge_reads_a_child_in_a_compressed_list(chirp_app: Subject) -> None:
    raw = Raw("GET", VIEWS[0].path, headers=(chirp.session(chirp.STRANGER), header("accept-encoding", "gzip")))
    pair = await unprotected(chirp_app).both(raw)
    assert pair.wrapped.header("content-encoding") == "gzip"
    assert b"kid_mia" not in pair.wrapped.body  # only a client that decodes sees her...
    assert leaks(pair.wrapped, VIEWS[0].forbidden(chirp_app)) >= {"kid_mia", "Mia Kidd", "kid_leo"}  # ...and we do


def test_answers_are_decoded_as_a_client_decodes_them() -> None:
    text = b'{"name": "Mia Kidd"}'
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    stacked = gzip.compress(zlib.compress(text))
    cases = [
        ([(b"content-encoding", b"gzip")], gzip.compress(text[:9]) + gzip.compress(text[9:])),  # two members
        ([(b"content-encoding", b"x-gzip")], gzip.compress(text)),
        ([(b"content-encoding", b"deflate")], zlib.compress(text)),
        ([(b"content-encoding", b"deflate")], raw_deflate.compress(text) + raw_deflate.flush()),
        ([(b"content-encoding", b"deflate, gzip")], stacked),
        ([(b"content-encoding", b"deflate"), (b"content-encoding", b"gzip")], stacked),
    ]
    for headers, body in cases:
        assert Reply(200, headers, body).content() == text
    with pytest.raises(Unreadable):
        Reply(200, [(b"content-encoding", b"x-custom")], text).content()


def test_a_json_escape_does_not_hide_a_name() -> None:
    reply = Reply(200, [(b"content-type", b"application/json")], b'{"results": [{"handle": "kid_\\u006dia"}]}')
    assert leaks(reply, {"kid_mia"}) == {"kid_mia"}
