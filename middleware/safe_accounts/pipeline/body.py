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


class AmbiguousFraming(BodyUnreadable):
    """Framing that lets two readers see two different bodies: refused, never guessed."""


class Body(NamedTuple):
    raw: bytes
    content_type: str  # lower-cased media type without parameters
    charset: str | None
    inspectable: bytes  # decompressed when the request was compressed
    # The header is exactly `application/json`: every framework reads such a body as JSON,
    # decoded as `json.loads` decodes bytes, and none reads it as a form.
    plain_json: bool = False

    @property
    def coded(self) -> bool:
        """Sent with a content coding we undid: `inspectable` is its decoding, and an app that
        does not undo it (Starlette, FastAPI, Django, Litestar never do) reads `raw`."""
        return self.raw is not self.inspectable


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
    """Inflate gzip/deflate for inspection, never past `limit` (a zip bomb stops at the limit).

    Exactly one whole stream: anything after its end (bytes, or a second gzip member) is
    read by one decoder (`gzip.decompress` reads every member) and dropped by another (one
    inflater stops at the first), so it is refused, as is a stream cut short."""
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
    if not inflater.eof:
        raise BodyUnreadable(f"{encoding} body ends before its stream does")
    if inflater.unused_data:
        raise AmbiguousFraming(f"bytes after the end of the {encoding} stream")
    return out


def _entity_headers(scope: Scope) -> tuple[bytes | None, bytes | None, bytes | None]:
    """Content-Length, Content-Type and Content-Encoding, raw, in one pass over the headers.

    A header written twice with two values is refused: Starlette reads the first
    `Content-Type`, a framework joining them reads both, and we must not read a third way.
    """
    length = media = encoding = None
    chunked = False
    for key, value in scope.get("headers") or ():
        if key == b"content-length":
            if length is not None and length != value:
                raise AmbiguousFraming("two different Content-Length headers")
            length = value
        elif key == b"content-type":
            if media is not None and media != value:
                raise AmbiguousFraming("two different Content-Type headers")
            media = value
        elif key == b"content-encoding":
            if encoding is not None:
                # Even the same value twice: one reader undoes it once, another twice.
                raise AmbiguousFraming("Content-Encoding given twice")
            encoding = value
        elif key == b"transfer-encoding":
            chunked = True
    if length is not None:
        if chunked:
            # RFC 9112: a sender never sends both; a reader may frame by either.
            raise AmbiguousFraming("both Content-Length and Transfer-Encoding")
        if not length.isdigit():
            # `5, 5` is one length written twice (RFC 9110); anything else is no length.
            values = {v.strip() for v in length.split(b",")}
            if len(values) != 1 or not next(iter(values)).isdigit():
                raise AmbiguousFraming("a Content-Length that is not one number")
    return length, media, encoding


async def read_body(scope: Scope, receive: Receive, limit: int) -> Body:
    declared, content_type, content_encoding = _entity_headers(scope)
    length = None if declared is None else int(declared if declared.isdigit() else declared.split(b",")[0])
    if length is not None and length > limit:
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
    if length is not None and length != len(raw):
        # The server frames the body; a length that disagrees with it is a second framing.
        raise AmbiguousFraming("a Content-Length other than the body's length")
    media, charset = _media_type(content_type)
    inspectable = raw
    encoding = content_encoding.decode("latin-1").strip().lower() if content_encoding else ""
    if encoding and encoding != "identity" and raw:
        # Several codings are applied in order; undo them in reverse.
        for coding in reversed([c.strip() for c in encoding.split(",") if c.strip()]):
            if coding != "identity":
                inspectable = _decompress(inspectable, coding, limit)
    # Body(...) without its argument binding
    return tuple.__new__(Body, (raw, media, charset, inspectable, content_type == b"application/json"))


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
