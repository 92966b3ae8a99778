"""Content codings of the app's answer: undone where we can, refused where we cannot, and the
app asked only for those we can undo."""

from __future__ import annotations

import gzip
import zlib

import pytest

from safe_accounts.pipeline.codings import DECODABLE, TooLarge, Undecodable, acceptable, decode

DOCUMENT = b'{"results": [{"id": "ann"}]}'


def test_gzip_and_deflate_are_undone_in_the_reverse_of_the_order_applied() -> None:
    assert decode(gzip.compress(DOCUMENT), "gzip", 1 << 20) == DOCUMENT
    assert decode(zlib.compress(DOCUMENT), "deflate", 1 << 20) == DOCUMENT
    twice = gzip.compress(zlib.compress(DOCUMENT))  # deflate first, then gzip
    assert decode(twice, "deflate, gzip", 1 << 20) == DOCUMENT
    assert decode(DOCUMENT, "identity", 1 << 20) == DOCUMENT


def test_a_coding_we_cannot_undo_or_a_corrupt_stream_is_unreadable() -> None:
    with pytest.raises(Undecodable, match="compress"):
        decode(DOCUMENT, "compress", 1 << 20)
    with pytest.raises(Undecodable):
        decode(b"not gzip at all", "gzip", 1 << 20)


def test_an_answer_that_inflates_past_the_limit_is_too_large() -> None:
    with pytest.raises(TooLarge):
        decode(gzip.compress(b" " * 100_000), "gzip", 10_000)


def test_the_app_is_asked_only_for_codings_we_can_undo() -> None:
    assert acceptable(b"gzip, deflate, compress, *") == b"gzip, deflate"
    assert acceptable(b"compress") == b"identity"  # nothing left: plain bytes
    assert acceptable(b"GZIP;q=0.5") == b"GZIP;q=0.5"
    assert {"gzip", "deflate"} <= DECODABLE
