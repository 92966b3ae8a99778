"""Holding the app's answer, on a route whose answer we rewrite or read, until it is judged.

Such an answer (a discovery list, a profile to redact, a list of people inside any answer,
a contact response naming its requester) is passed on only once it has been read the way
a client will read it:

- the app is asked only for codings we can undo (`for_reading`: `Accept-Encoding` cut to
  what `codings` decodes, `identity` when nothing is left) and cannot hand the server a
  file by path instead of its bytes;
- a 2xx body is collected whole, however many chunks it comes in, up to
  `MAX_REWRITE_BYTES`; decoded (gzip, deflate; br and zstd where a decoder is installed);
  and parsed as JSON whatever type it declares, as a client's `response.json()` would;
- rewritten, it is sent as plain JSON (in the UTF-16 or UTF-32 the app wrote it in, if it
  did) with its own `Content-Length`, no `Content-Encoding` and no trailers; unchanged,
  exactly as the app sent it, still encoded, its trailers after it.

What cannot be read that way (a coding we cannot undo, a corrupt, truncated or trailing
stream, a body over the limit, a body that is not JSON, a part of a body, a body not sent
as bytes; where an enforced rule would change the answer, also a key written twice in one
object, and a rewrite that raises `Unreadable`) is a *miss*, counted by route for the
health report. On a route whose answer an
enforced rule would change (`strict`) a miss is refused: a 502 `unreadable-response`
problem instead of the app's bytes. Elsewhere (only monitor rules, an answer read for
records) it passes as the app sent it: monitor mode never changes an answer.

Answers outside 2xx pass as they are (the app's own 404 or 400 lists nobody), and so do
empty bodies. A HEAD answer has no body to read; on a strict route it loses its
`Content-Length` (the size of the unfiltered answer) and any body the app sends anyway.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from .._types import Message, Scope, Send
from ..decide.refusal import UNAVAILABLE
from .codings import TooLarge, Undecodable, acceptable, decode
from .problem import UNREADABLE_RESPONSE, send_problem

logger = logging.getLogger("safe_accounts.enforcement")

REWRITE_FAILED = "response rewrite failed (%s)"

MAX_REWRITE_BYTES = 8 * 1024 * 1024

Rewrite = Callable[[Any, int], Awaitable[tuple[Any, list[tuple[bytes, bytes]]] | None]]
"""Given the parsed JSON and the status: (the new document, or None for the body as it was;
extra headers), or None to change nothing."""

# Headers that describe the app's bytes: wrong once the body is rewritten.
_OF_THE_BYTES = frozenset(
    {
        b"content-length", b"content-encoding", b"transfer-encoding",
        b"content-md5", b"digest", b"content-digest", b"repr-digest",
    }
)
# Server extensions through which an app sends a file by reference, not as body messages.
_BY_REFERENCE = ("http.response.pathsend", "http.response.zerocopysend")

_BUFFERING, _PASSING, _DONE, _BODYLESS = range(4)


def for_reading(scope: Scope) -> Scope:
    """The scope handed to the app when its answer must be read: a copy that asks only for
    codings we can undo, and offers no way to send the body other than as bytes."""
    headers = scope.get("headers") or ()
    asked = b", ".join(v for k, v in headers if k == b"accept-encoding")
    out = {**scope, "headers": [(k, v) for k, v in headers if k != b"accept-encoding"]}
    out["headers"].append((b"accept-encoding", acceptable(asked)))
    extensions = scope.get("extensions")
    if extensions and any(name in extensions for name in _BY_REFERENCE):
        out["extensions"] = {k: v for k, v in extensions.items() if k not in _BY_REFERENCE}
    return out


class Unreadable(Exception):
    """Why an answer could not be read as a client reads it (raised by a rewrite, too)."""


class ResponseCapture:
    """A `send` wrapper for one answer. Call `send`; afterwards `miss` says why it could not
    be read, and `status` is the status the client got."""

    __slots__ = (
        "_chunks",
        "_fail_closed",
        "_head",
        "_rewrite",
        "_send",
        "_size",
        "_start",
        "_state",
        "_strict",
        "error",
        "miss",
        "status",
    )

    def __init__(
        self, send: Send, rewrite: Rewrite, *, fail_closed: bool = True, strict: bool = False, head: bool = False
    ) -> None:
        """`fail_closed`: a failing rewrite (a store) answers 503; `strict`: an answer that
        cannot be read answers 502; `head`: the request was HEAD (no body will come)."""
        self._send = send
        self._rewrite = rewrite
        self._fail_closed = fail_closed
        self._strict = strict
        self._head = head
        self.error: BaseException | None = None
        self._start: Message | None = None
        self._chunks: list[bytes] = []
        self._size = 0
        self._state = _BUFFERING
        self.miss: str | None = None
        self.status: int | None = None

    async def send(self, message: Message) -> None:
        state = self._state
        if state == _PASSING:
            await self._send(message)
            return
        if state == _DONE:
            return  # our own answer has been sent: the rest of the app's is dropped
        if state == _BODYLESS:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await self._send(message)
            return
        kind = message["type"]
        if kind == "http.response.start":
            self.status = status = message["status"]
            if not 200 <= status < 300:
                self._state = _PASSING
                await self._send(message)
            elif self._head and self._strict:
                # Some apps send a HEAD answer's body anyway; the server drops it, so do we.
                self._state = _BODYLESS
                await self._send(_without(message, (b"content-length",)))
            elif self._head:
                self._state = _PASSING
                await self._send(message)
            else:
                self._start = message
            return
        if self._start is None:
            await self._send(message)  # nothing held yet: not ours to judge
            return
        if kind != "http.response.body":
            await self._unreadable("the body was not sent as bytes", message)
            return
        chunk = message.get("body", b"")
        self._size += len(chunk)
        if self._size > MAX_REWRITE_BYTES:
            await self._unreadable("response is larger than the rewrite limit", message)
            return
        self._chunks.append(chunk)
        if not message.get("more_body", False):
            await self._finish()

    async def _unreadable(self, reason: str, pending: Message) -> None:
        """A miss before the body is complete: refuse, or send what was held and pass the rest."""
        assert self._start is not None
        self.miss = reason
        held, self._chunks = self._chunks, []
        if self._strict:
            self._state = _DONE
            await self._refuse()
            return
        self._state = _PASSING
        await self._send(self._start)
        if held:
            await self._send({"type": "http.response.body", "body": b"".join(held), "more_body": True})
        await self._send(pending)

    async def _finish(self) -> None:
        assert self._start is not None
        self._state = _DONE
        start = self._start
        raw = b"".join(self._chunks)
        self._chunks = []
        try:
            document, written_in = _read(raw, start, one_reading=self._strict)
        except Unreadable as exc:
            await self._missed(str(exc), start, raw)
            return
        result = None
        if document is not None:
            try:
                result = await self._rewrite(document, start["status"])
            except Unreadable as exc:
                await self._missed(str(exc), start, raw)
                return
            except Exception as exc:  # noqa: BLE001 - a store failure or a bug of ours
                # The app's response may show accounts that should be hidden: never pass
                # it on unfiltered unless the rules say fail open.
                self.error = exc
                logger.warning(REWRITE_FAILED, exc.__class__.__name__)
                if self._fail_closed:
                    await send_problem(self._send, UNAVAILABLE)
                    return
        body = raw
        if result is not None:
            new_document, extra_headers = result
            if new_document is None:  # the app's bytes, as they were, with our headers added
                start = {**start, "headers": [*(start.get("headers") or ()), *extra_headers]}
            else:
                try:
                    body = _dumps(new_document, written_in)
                except (TypeError, ValueError, RecursionError):
                    await self._missed("response could not be written back", start, raw)
                    return
                start = _without(start, _OF_THE_BYTES)
                start["headers"] += [(b"content-length", str(len(body)).encode()), *extra_headers]
                # The app's trailers (a digest, a signature) are of its bytes: ours have none.
                start["trailers"] = False
        if body is raw:
            self._state = _PASSING  # the app's trailers, if it promised any, are of these bytes
        await self._send(start)
        await self._send({"type": "http.response.body", "body": body, "more_body": False})

    async def _missed(self, reason: str, start: Message, raw: bytes) -> None:
        """A miss once the body is complete: refuse, or send the app's answer as it was."""
        self.miss = reason
        if self._strict:
            await self._refuse()
        else:
            self._state = _PASSING  # the app's trailers, if it promised any, follow
            await self._send(start)
            await self._send({"type": "http.response.body", "body": raw, "more_body": False})

    async def _refuse(self) -> None:
        self.status = 502
        await send_problem(self._send, UNREADABLE_RESPONSE)


def _read(raw: bytes, start: Message, *, one_reading: bool = False) -> tuple[Any, str | None]:
    """The answer's JSON document (None: nothing to read) and, when orjson could not read it,
    the encoding the careful parser read it in; raises `Unreadable`. `one_reading`: also
    refuse a document clients read in different ways (a key written twice in one object)."""
    if not raw:
        return None, None
    headers = start.get("headers") or ()
    if start["status"] == 206 or any(k == b"content-range" for k, _ in headers):
        raise Unreadable("response is a part of a body")
    coding = ", ".join(v.decode("latin-1") for k, v in headers if k == b"content-encoding")
    try:
        body = decode(raw, coding, MAX_REWRITE_BYTES) if coding else raw
    except Undecodable as exc:
        raise Unreadable(str(exc)) from None
    except TooLarge:
        raise Unreadable("response inflates past the rewrite limit") from None
    if not body.strip():
        return None, None
    try:
        document, careful = orjson.loads(body), False
    except orjson.JSONDecodeError:
        document, careful = None, True
    if not careful and (not one_reading or _as_orjson_writes_it(document, body)):
        return document, None
    # What a client's parser also takes: a byte order mark, NaN, integers past 64 bits.
    try:
        read = json.loads(body, object_pairs_hook=_one_value_per_key if one_reading else None)
    except _KeyWrittenTwice:
        raise Unreadable("response writes a key twice in one object") from None
    except (ValueError, RecursionError):
        raise Unreadable("response is not JSON") from None
    if not careful:
        return document, None
    # A UTF-8 byte order mark is dropped, as before: many clients refuse one, none needs it.
    encoding = json.detect_encoding(body)
    return read, "utf-8" if encoding == "utf-8-sig" else encoding


def _as_orjson_writes_it(document: Any, body: bytes) -> bool:
    """Whether `body` is `document` written as orjson writes it (compact, as Starlette's,
    FastAPI's and msgspec's answers are). Then the text holds no member the document lost,
    so no key is written twice in it, and the second, slower reading that would find one
    (a hook per object: several times orjson's parse) is not needed."""
    try:
        return orjson.dumps(document) == body
    except TypeError:  # nested deeper than orjson writes (it reads deeper): the slow way
        return False


class _KeyWrittenTwice(Exception):
    pass


def _one_value_per_key(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on `{"results": [<child>], "results": []}` (most keep the last value,
    # some the first, some refuse it), and an unchanged answer is passed as the app's bytes,
    # the value we did not read included: no one reading can be trusted to be the client's.
    # Keys are compared as decoded, so `"\u0069d"` is `"id"`.
    document = dict(pairs)
    if len(document) != len(pairs):
        raise _KeyWrittenTwice
    return document


def _dumps(document: Any, written_in: str | None) -> bytes:
    if written_in is None:
        try:
            return orjson.dumps(document)
        except TypeError:  # nested deeper than orjson writes (255 levels; it reads 1024)
            return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    # What orjson could not read, it may not write either. Escaped to ASCII: a lone
    # surrogate (`"\ud83d"`, half an emoji) is written back as the app wrote it, where no
    # encoder would take it as a character. And in the encoding the app wrote (UTF-16 or
    # UTF-32, with its byte order mark if it had one): its `Content-Type` may say so, and a
    # client that decodes by the charset would read UTF-8 as nonsense.
    return json.dumps(document, separators=(",", ":")).encode(written_in)


def _without(message: Message, names: frozenset[bytes] | tuple[bytes, ...]) -> dict[str, Any]:
    return {**message, "headers": [(k, v) for k, v in message.get("headers") or () if k.lower() not in names]}
