"""Reading a request body once, bounded, and giving the app exactly the same bytes.

The middleware must see the body the way the app will, so it reads all of it (up to the
route's limit), decodes it for inspection only, and replays the original bytes to the
app as one `http.request` message. Whatever the app receives after that (a disconnect)
comes from the real `receive`.
"""

from __future__ import annotations

import zlib
from functools import lru_cache
from typing import NamedTuple

from .._types import Message, Receive, Scope


class BodyTooLarge(Exception):
    """The body (or its decompressed form) is over the route's limit: answered with 413."""


class BodyUnreadable(Exception):
    """A content encoding we cannot inspect, or a client that went away mid-body."""


class Body(NamedTuple):
    raw: bytes
    content_type: str  # lower-cased media type without parameters
    charset: str | None
    inspectable: bytes  # decompressed when the request was compressed


# A platform sends a handful of distinct Content-Type values: parse each once.
@lru_cache(maxsize=256)
def _media_type(raw: bytes | None) -> tuple[str, str | None]:
    if not raw:
        return "", None
    media, _, params = raw.decode("latin-1").partition(";")
    charset = None
    for param in params.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip('"').lower() or None
    return media.strip().lower(), charset


def _decompress(data: bytes, encoding: str, limit: int) -> bytes:
    """Inflate gzip/deflate for inspection, never past `limit` (a zip bomb stops at the limit)."""
    if encoding in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        inflater = zlib.decompressobj()
    else:
        raise BodyUnreadable(f"content encoding {encoding!r} cannot be inspected")
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise BodyUnreadable(f"{encoding} body is corrupt") from exc
    if len(out) > limit:
        raise BodyTooLarge()
    return out


def _entity_headers(scope: Scope) -> tuple[bytes | None, bytes | None, bytes | None]:
    """Content-Length, Content-Type and Content-Encoding, raw, in one pass over the headers."""
    length = media = encoding = None
    for key, value in scope.get("headers") or ():
        if key == b"content-length":
            length = value
        elif key == b"content-type":
            media = value
        elif key == b"content-encoding":
            encoding = value
    return length, media, encoding


async def read_body(scope: Scope, receive: Receive, limit: int) -> Body:
    declared, content_type, content_encoding = _entity_headers(scope)
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise BodyTooLarge()
    message = await receive()
    if message["type"] == "http.disconnect":
        raise BodyUnreadable("client disconnected before the body was complete")
    raw = message.get("body", b"")
    if len(raw) > limit:
        raise BodyTooLarge()
    if message.get("more_body", False):  # the rest, chunk by chunk (one message is the norm)
        chunks = [raw]
        size = len(raw)
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise BodyUnreadable("client disconnected before the body was complete")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge()
            chunks.append(chunk)
            more = message.get("more_body", False)
        raw = b"".join(chunks)
    media, charset = _media_type(content_type)
    inspectable = raw
    encoding = content_encoding.decode("latin-1").strip().lower() if content_encoding else ""
    if encoding and encoding != "identity" and raw:
        # Several codings are applied in order; undo them in reverse.
        for coding in reversed([c.strip() for c in encoding.split(",") if c.strip()]):
            if coding != "identity":
                inspectable = _decompress(inspectable, coding, limit)
    return tuple.__new__(Body, (raw, media, charset, inspectable))  # Body(...) without its argument binding


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the buffered body, then defers to the real one."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
