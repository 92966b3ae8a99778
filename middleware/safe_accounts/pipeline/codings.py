"""Content codings of the app's answers that we can undo, decided once at import.

gzip and deflate are always there (zlib). `br` and `zstd` are undone only when a
well-kept decoder is installed (`brotli`, `zstandard`: the `compression` extra); without
one, the app is never asked for that coding and an answer in it is unreadable.

Every decoder reads the way a client does (several gzip members, zlib-wrapped or raw
deflate, several zstd frames) and refuses what a client could read differently (a
truncated stream, bytes after its end), and none inflates past the limit it is given.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from functools import lru_cache


class Undecodable(Exception):
    """A coding we cannot undo, or a stream that is corrupt, truncated or followed by more bytes."""


class TooLarge(Exception):
    """The decoded answer would be over the limit."""


def _gzip(data: bytes, limit: int) -> bytes:
    out = bytearray()
    rest = data
    while rest:  # a client reads every member of a multi-member gzip, so must we
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(rest, limit + 1 - len(out))
        except zlib.error as exc:
            raise Undecodable("gzip stream is corrupt") from exc
        if len(out) > limit or inflater.unconsumed_tail:
            raise TooLarge()
        if not inflater.eof:
            raise Undecodable("gzip stream is truncated")
        rest = inflater.unused_data
    return bytes(out)


def _deflate(data: bytes, limit: int) -> bytes:
    # `deflate` is zlib-wrapped by the standard; clients also accept it raw, so we read both.
    for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS):
        inflater = zlib.decompressobj(wbits)
        try:
            out = inflater.decompress(data, limit + 1)
        except zlib.error:
            continue
        if len(out) > limit or inflater.unconsumed_tail:
            raise TooLarge()
        if not inflater.eof or inflater.unused_data:
            raise Undecodable("deflate stream is truncated or followed by more bytes")
        return out
    raise Undecodable("deflate stream is corrupt")


def _brotli_decoder() -> Callable[[bytes, int], bytes] | None:
    try:
        import brotli  # type: ignore[import-untyped]
    except ImportError:
        return None
    try:  # only a decoder that can stop at a limit (brotli 1.2 and later) is used
        brotli.Decompressor().process(b"", output_buffer_limit=1)
    except TypeError:
        return None
    except brotli.error:
        pass

    def decode(data: bytes, limit: int) -> bytes:
        decoder = brotli.Decompressor()
        try:
            out = decoder.process(data, output_buffer_limit=limit + 1)
            while len(out) <= limit and not decoder.is_finished() and not decoder.can_accept_more_data():
                out += decoder.process(b"", output_buffer_limit=limit + 1 - len(out))
        except brotli.error as exc:
            raise Undecodable("br stream is corrupt") from exc
        if len(out) > limit:
            raise TooLarge()
        if not decoder.is_finished():
            raise Undecodable("br stream is truncated")
        return bytes(out)

    return decode


def _zstd_decoder() -> Callable[[bytes, int], bytes] | None:
    try:
        import zstandard
    except ImportError:
        return None

    def decode(data: bytes, limit: int) -> bytes:
        try:
            # First the size, read at most one byte past the limit: a bomb stops there.
            reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)
            size = 0
            while chunk := reader.read(min(limit + 1 - size, 1 << 20) or 1):
                size += len(chunk)
                if size > limit:
                    raise TooLarge()
            # Then frame by frame, each required to end: the reader passes a truncated frame.
            out = bytearray()
            rest = data
            while rest:
                frame = zstandard.ZstdDecompressor().decompressobj()
                out += frame.decompress(rest)
                if not frame.eof:
                    raise Undecodable("zstd stream is truncated")
                rest = frame.unused_data
        except zstandard.ZstdError as exc:
            raise Undecodable("zstd stream is corrupt") from exc
        if len(out) > limit:
            raise TooLarge()
        return bytes(out)

    return decode


def _decoders() -> dict[str, Callable[[bytes, int], bytes]]:
    found: dict[str, Callable[[bytes, int], bytes] | None] = {
        "gzip": _gzip, "x-gzip": _gzip, "deflate": _deflate, "br": _brotli_decoder(), "zstd": _zstd_decoder(),
    }
    return {name: decoder for name, decoder in found.items() if decoder is not None}


DECODERS = _decoders()
DECODABLE = frozenset(DECODERS)


def decode(data: bytes, content_encoding: str, limit: int) -> bytes:
    """Undo `content_encoding` (codings applied in order, undone in reverse)."""
    for coding in reversed(content_encoding.split(",")):
        coding = coding.strip().lower()
        if coding in ("", "identity"):
            continue
        decoder = DECODERS.get(coding)
        if decoder is None:
            raise Undecodable(f"content coding {coding!r} cannot be read")
        data = decoder(data, limit)
    return data


@lru_cache(maxsize=256)
def acceptable(accept_encoding: bytes) -> bytes:
    """The client's `Accept-Encoding` less every coding we cannot undo (and `*`, which would
    let the app choose any): what the app is asked for. `identity` when nothing is left, as a
    missing header would also allow any coding."""
    kept = []
    for part in accept_encoding.decode("latin-1").split(","):
        coding = part.partition(";")[0].strip().lower()
        if coding in DECODABLE or coding == "identity":
            kept.append(part.strip())
    return ", ".join(kept).encode("latin-1") if kept else b"identity"

