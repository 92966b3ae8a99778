"""Encoded responses (issue 13, class 1): a compressed, oversized or unreadable answer on a
route whose answer we filter or redact is read, or refused; it never passes unread.

Judged by the bytes the client receives, decoded the way a client decodes them. Before
this was fixed, every test here that expects a refusal or a filtered list failed: an
encoded or non-JSON answer was passed on as the app sent it and only counted as a miss.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import FileResponse, StreamingResponse

from safe_accounts import AgeBand
from safe_accounts.pipeline.capture import MAX_REWRITE_BYTES
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts

from .conftest import ACCOUNTS, POLICY, HostApp
from .responses import (
    ADULTS_ONLY,
    HAS_BROTLI,
    HAS_ZSTD,
    LISTING,
    MINORS,
    Answer,
    Canned,
    Wrap,
    call,
    wrap,
)

__all__ = ["wrap"]  # the fixture, used by name

EVERY_CODING = [("accept-encoding", "gzip, deflate, br, zstd")]
MONITOR = POLICY.replace("name: test-app\n", "name: test-app\nmode: monitor\n")


def compressed_host() -> GZipMiddleware:
    """The conftest's host app with Starlette's compression inside it, as a platform ships it."""
    return GZipMiddleware(HostApp().build(), minimum_size=0)


def encoded(coding: str, body: bytes = LISTING) -> Canned:
    """An app that encodes its answer whatever the client asked for."""
    return Canned(
        headers=[(b"content-type", b"application/json"), (b"content-encoding", coding.encode())],
        chunks=(ENCODERS[coding](body),),
    )


def _brotli(data: bytes) -> bytes:
    import brotli

    return brotli.compress(data)


def _zstd(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor().compress(data)


ENCODERS = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,
    "gzip, gzip": lambda data: gzip.compress(gzip.compress(data)),
    "br": _brotli,
    "zstd": _zstd,
    "x-custom": lambda data: bytes(b ^ 0x55 for b in data),
}


def assert_refused(answer: Answer) -> None:
    assert answer.status == 502
    assert answer.problem_type() == "unreadable-response"
    for minor in MINORS:
        assert minor.encode() not in answer.body


# --- an app with a compression middleware inside ---------------------------------------------


async def test_a_stranger_asking_for_every_coding_sees_no_child_in_search(wrap: Wrap) -> None:
    answer = await call(wrap(compressed_host()), "GET", "/api/search?q=a", "adult", EVERY_CODING)
    assert answer.status == 200
    assert answer.listed() and not answer.listed() & MINORS
    assert int(answer.header("content-length") or -1) == len(answer.body)


async def test_a_childs_profile_stays_redacted_when_the_app_compresses(wrap: Wrap) -> None:
    answer = await call(wrap(compressed_host()), "GET", "/api/accounts/teen", "adult", EVERY_CODING)
    assert answer.status == 200
    profile = answer.json()
    assert profile["name"] == "Teen"
    assert not {"location", "school", "friends"} & set(profile)


async def test_a_child_in_an_adults_friend_list_stays_hidden_when_the_app_compresses(wrap: Wrap) -> None:
    answer = await call(wrap(compressed_host()), "GET", "/api/accounts/parent", "adult", EVERY_CODING)
    assert [f["id"] for f in answer.json()["friends"]] == ["other-adult"]


async def test_a_connected_parent_still_sees_their_child_when_the_app_compresses(wrap: Wrap) -> None:
    answer = await call(wrap(compressed_host()), "GET", "/api/search", "parent", [("accept-encoding", "gzip")])
    assert "kid" in answer.listed()
    assert not answer.listed() & (MINORS - {"kid"})


async def test_the_app_is_asked_only_for_codings_we_can_undo(wrap: Wrap) -> None:
    app = Canned()
    middleware = wrap(app)
    await call(
        middleware, "GET", "/api/search", "adult", [("accept-encoding", "br;q=1.0, x-custom, *, gzip;q=0.5, zstd")]
    )
    expected = ["br;q=1.0"] * HAS_BROTLI + ["gzip;q=0.5"] + ["zstd"] * HAS_ZSTD
    assert app.asked("accept-encoding") == [", ".join(expected)]
    await call(middleware, "GET", "/api/search", "adult", [("accept-encoding", "x-custom, *")])
    assert app.asked("accept-encoding") == ["identity"]


# --- an app that encodes whatever it was asked ---------------------------------------------


@pytest.mark.parametrize(
    "coding",
    [
        "gzip", "x-gzip", "deflate", "gzip, gzip",
        pytest.param("br", marks=pytest.mark.skipif(not HAS_BROTLI, reason="no brotli decoder installed")),
        pytest.param("zstd", marks=pytest.mark.skipif(not HAS_ZSTD, reason="no zstandard decoder installed")),
    ],
)
async def test_an_app_that_always_compresses_is_decoded_and_filtered(wrap: Wrap, coding: str) -> None:
    answer = await call(wrap(encoded(coding)), "GET", "/api/search", "adult", [("accept-encoding", "identity")])
    assert answer.status == 200
    assert answer.header("content-encoding") is None  # rewritten: sent as plain JSON
    assert int(answer.header("content-length") or -1) == len(answer.body)
    assert answer.listed() == set(ACCOUNTS) - MINORS


async def test_raw_deflate_and_many_gzip_members_are_read_as_a_client_reads_them(wrap: Wrap) -> None:
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    deflated = raw.compress(LISTING) + raw.flush()
    app = Canned(
        headers=[(b"content-type", b"application/json"), (b"content-encoding", b"deflate")], chunks=(deflated,)
    )
    assert (await call(wrap(app), "GET", "/api/search", "adult")).listed() == set(ACCOUNTS) - MINORS
    # Two gzip members: a client reads both, so we must too (the second names the children).
    half = LISTING.index(b'"kid"')
    members = gzip.compress(LISTING[:half]) + gzip.compress(LISTING[half:])
    app = Canned(headers=[(b"content-type", b"application/json"), (b"content-encoding", b"gzip")], chunks=(members,))
    assert (await call(wrap(app), "GET", "/api/search", "adult")).listed() == set(ACCOUNTS) - MINORS


async def test_an_unchanged_compressed_answer_is_passed_as_the_app_encoded_it(wrap: Wrap) -> None:
    app = encoded("gzip", ADULTS_ONLY)
    answer = await call(wrap(app), "GET", "/api/search", "adult", [("accept-encoding", "gzip")])
    assert answer.header("content-encoding") == "gzip"
    assert answer.body == app.chunks[0]


async def test_an_answer_in_a_coding_we_cannot_undo_is_refused(wrap: Wrap) -> None:
    assert_refused(await call(wrap(encoded("x-custom")), "GET", "/api/search", "adult"))


async def test_a_profile_in_a_coding_we_cannot_undo_is_refused(wrap: Wrap) -> None:
    profile = orjson.dumps({"id": "teen", "name": "Teen", "location": "Leeds", "school": "Park High"})
    answer = await call(wrap(encoded("x-custom", profile)), "GET", "/api/accounts/teen", "adult")
    assert answer.status == 502
    assert b"Leeds" not in answer.body


def test_without_a_brotli_or_zstandard_decoder_neither_is_asked_for_nor_read() -> None:
    # A fresh interpreter in which the decoder libraries cannot be imported.
    script = """
import sys
sys.modules["brotli"] = None
sys.modules["zstandard"] = None
from safe_accounts.pipeline import codings
assert codings.acceptable(b"br, zstd, gzip") == b"gzip", codings.acceptable(b"br, zstd, gzip")
assert codings.acceptable(b"br") == b"identity"
for coding in ("br", "zstd"):
    try:
        codings.decode(b"\\x0b\\x03\\x80{}\\x03", coding, 1000)
    except codings.Undecodable:
        pass
    else:
        raise AssertionError(coding + " was decoded without a decoder")
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr


def _corrupt() -> list[object]:
    cases: list[object] = [
        pytest.param("gzip", gzip.compress(LISTING)[:-12], id="gzip-truncated"),
        pytest.param("gzip", gzip.compress(LISTING) + b"trailing bytes", id="gzip-trailing-garbage"),
        pytest.param("gzip", b"not gzip at all", id="not-gzip"),
        pytest.param("deflate", zlib.compress(LISTING)[:-6], id="deflate-truncated"),
        pytest.param("deflate", zlib.compress(LISTING) + b"more", id="deflate-trailing-garbage"),
    ]
    if HAS_BROTLI:
        cases += [
            pytest.param("br", _brotli(LISTING)[:-4], id="br-truncated"),
            pytest.param("br", _brotli(LISTING) + b"more", id="br-trailing-garbage"),
        ]
    if HAS_ZSTD:
        cases += [
            pytest.param("zstd", _zstd(LISTING)[:-4], id="zstd-truncated"),
            pytest.param("zstd", _zstd(LISTING) + b"more", id="zstd-trailing-garbage"),
        ]
    return cases


@pytest.mark.parametrize(("coding", "body"), _corrupt())
async def test_a_corrupt_compressed_answer_is_refused(wrap: Wrap, coding: str, body: bytes) -> None:
    app = Canned(
        headers=[(b"content-type", b"application/json"), (b"content-encoding", coding.encode())], chunks=(body,)
    )
    assert_refused(await call(wrap(app), "GET", "/api/search", "adult"))


async def test_an_answer_over_the_rewrite_limit_is_refused(wrap: Wrap) -> None:
    filler = orjson.dumps([{"id": "adult", "name": "x" * 1000}] * (MAX_REWRITE_BYTES // 1000))
    body = LISTING[:-1] + b', "more": ' + filler + b"}"
    assert len(body) > MAX_REWRITE_BYTES
    app = Canned(chunks=[body[i : i + 65536] for i in range(0, len(body), 65536)])
    assert_refused(await call(wrap(app), "GET", "/api/search", "adult"))


def _quick(coding: str) -> Callable[[bytes], bytes]:
    """A fast encoder for `coding` (the test skips when no decoder of it is installed)."""
    if coding == "gzip":
        return lambda data: gzip.compress(data, compresslevel=1)
    if coding == "deflate":
        return lambda data: zlib.compress(data, 1)
    if coding == "br":
        brotli = pytest.importorskip("brotli")
        return lambda data: brotli.compress(data, quality=1)
    zstandard = pytest.importorskip("zstandard")
    return zstandard.ZstdCompressor(level=1).compress


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
async def test_a_compressed_answer_that_inflates_past_the_limit_is_refused(wrap: Wrap, coding: str) -> None:
    body = LISTING[:-1] + b', "padding": "' + b" " * (MAX_REWRITE_BYTES + 1) + b'"}'
    headers = [(b"content-type", b"application/json"), (b"content-encoding", coding.encode())]
    app = Canned(headers=headers, chunks=(_quick(coding)(body),))
    assert_refused(await call(wrap(app), "GET", "/api/search", "adult"))


@pytest.mark.parametrize(
    ("media", "body"),
    [
        (b"text/html; charset=utf-8", b"<ul>" + b"".join(b"<li>%s</li>" % a.encode() for a in ACCOUNTS) + b"</ul>"),
        (b"application/json", LISTING[:-20]),
        (b"application/json", b"\xef\xbb\xbf\xff" + LISTING),
        (None, b"kid, young, teen"),
        (b"application/json", b'{"results": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    ],
    ids=["html", "truncated-json", "not-utf8", "untyped-text", "nested-too-deep"],
)
async def test_an_answer_we_cannot_read_as_json_is_refused_on_a_discovery_route(
    wrap: Wrap, media: bytes | None, body: bytes
) -> None:
    app = Canned(headers=[] if media is None else [(b"content-type", media)], chunks=(body,))
    assert_refused(await call(wrap(app), "GET", "/api/search", "adult"))


async def test_json_sent_as_text_is_read_as_json(wrap: Wrap) -> None:
    # A client's `response.json()` does not look at the type: neither do we.
    app = Canned(headers=[(b"content-type", b"text/plain; charset=utf-8")])
    answer = await call(wrap(app), "GET", "/api/search", "adult")
    assert answer.status == 200
    assert answer.listed() == set(ACCOUNTS) - MINORS


async def test_json_with_a_byte_order_mark_is_read(wrap: Wrap) -> None:
    app = Canned(chunks=(b"\xef\xbb\xbf" + LISTING,))
    assert (await call(wrap(app), "GET", "/api/search", "adult")).listed() == set(ACCOUNTS) - MINORS


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (404, [(b"content-type", b"text/plain")], b"no such page"),
        (400, [(b"content-type", b"application/json"), (b"content-encoding", b"x-custom")], b"\x00\x01"),
        (500, [(b"content-type", b"text/html")], b"<h1>oops</h1>"),
    ],
)
async def test_the_apps_own_errors_pass_as_they_are(
    wrap: Wrap, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    answer = await call(wrap(Canned(status=status, headers=headers, chunks=(body,))), "GET", "/api/search", "adult")
    assert (answer.status, answer.body) == (status, body)


async def test_an_empty_success_passes(wrap: Wrap) -> None:
    answer = await call(wrap(Canned(status=204, headers=[], chunks=(b"",))), "GET", "/api/search", "adult")
    assert (answer.status, answer.body) == (204, b"")


async def test_a_streamed_answer_in_many_chunks_is_filtered(wrap: Wrap) -> None:
    async def search(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        async def pieces():  # type: ignore[no-untyped-def]
            for i in range(0, len(LISTING), 7):
                yield LISTING[i : i + 7]
                await asyncio.sleep(0)

        await StreamingResponse(pieces(), media_type="application/json")(scope, receive, send)

    app = GZipMiddleware(search, minimum_size=0)
    answer = await call(wrap(app), "GET", "/api/search", "adult", [("accept-encoding", "gzip")])
    assert answer.listed() == set(ACCOUNTS) - MINORS


async def test_a_file_answer_is_read_not_sent_by_path(wrap: Wrap, tmp_path: Path) -> None:
    listing = tmp_path / "search.json"
    listing.write_bytes(LISTING)

    async def search(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        await FileResponse(listing, media_type="application/json")(scope, receive, send)

    # A server offering `pathsend` would otherwise get the file's path, not its bytes.
    answer = await call(wrap(search), "GET", "/api/search", "adult", extensions={"http.response.pathsend": {}})
    assert answer.listed() == set(ACCOUNTS) - MINORS


async def test_a_range_request_cannot_cut_a_child_out_of_the_list(wrap: Wrap, tmp_path: Path) -> None:
    listing = tmp_path / "search.json"
    listing.write_bytes(LISTING)
    start = LISTING.index(b'{"id":"kid"')
    end = LISTING.index(b"}", start)

    async def search(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        await FileResponse(listing, media_type="application/json")(scope, receive, send)

    answer = await call(wrap(search), "GET", "/api/search", "adult", [("range", f"bytes={start}-{end}")])
    assert answer.status == 200
    assert answer.listed() == set(ACCOUNTS) - MINORS
    # An app that answers a slice anyway is refused: a slice is not the JSON we can judge.
    piece = LISTING[start : end + 1]
    partial = Canned(
        status=206,
        headers=[(b"content-type", b"application/json"), (b"content-range", b"bytes 1-2/3")],
        chunks=(piece,),
    )
    assert_refused(await call(wrap(partial), "GET", "/api/search", "adult"))


async def test_a_head_request_shows_no_length_of_the_unfiltered_answer(wrap: Wrap) -> None:
    answer = await call(wrap(HostApp().build()), "HEAD", "/api/search", "adult")
    assert answer.status == 200
    assert answer.body == b""
    assert answer.header("content-length") is None


# --- monitor mode changes nothing ---------------------------------------------------------


async def test_monitor_mode_passes_the_apps_compressed_answer_untouched(wrap: Wrap) -> None:
    app = encoded("gzip")
    middleware = wrap(app, MONITOR)
    answer = await call(middleware, "GET", "/api/search", "adult", [("accept-encoding", "br, gzip")])
    assert (answer.header("content-encoding"), answer.body) == ("gzip", app.chunks[0])
    assert app.asked("accept-encoding") == ["br, gzip"]


async def test_monitor_mode_passes_what_it_cannot_read_and_counts_it(wrap: Wrap) -> None:
    app = encoded("x-custom")
    middleware = wrap(app, MONITOR)
    answer = await call(middleware, "GET", "/api/search", "adult")
    assert (answer.status, answer.body) == (200, app.chunks[0])
    assert middleware.runtime is not None
    assert middleware.runtime.misses == {"search": 1}


# --- answers that are read, not rewritten ---------------------------------------------------


async def test_a_childs_rejection_named_only_in_a_compressed_answer_still_counts(
    wrap: Wrap, monkeypatch: pytest.MonkeyPatch
) -> None:
    from . import conftest

    alerted: list[object] = []
    children = ["kid", "young", "teen", "kid-friend", "fifth-child"]
    middleware = wrap(
        compressed_host(), signals=attach_grooming_alerts(on_alert=alerted.append, flush_interval=0.01)
    )
    runtime = await middleware.start()
    await runtime.bands.set("fifth-child", band=AgeBand.UNDER_13)
    monkeypatch.setattr(conftest, "REQUEST_SENDERS", {f"r{i}": "parent" for i in range(len(children))})
    for i, child in enumerate(children):
        answer = await call(
            middleware, "POST", f"/api/v2/friend-requests/r{i}/reject", child, [("accept-encoding", "gzip")]
        )
        assert answer.status == 200
        assert answer.header("content-encoding") == "gzip"
        assert json.loads(answer.decoded())["from"] == "parent"
    alerts = runtime.alerts
    await alerts.recorder.flush()
    assert [(a.subject, a.signal) for a in await alerts.service.list()] == [("parent", "rejected-by-minors")]
