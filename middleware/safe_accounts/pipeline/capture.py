"""Holding the app's JSON response so that it can be rewritten (filter, redact, notices).

Only complete, uncompressed JSON bodies up to a limit are rewritten. Anything else
(another media type, a compressed or oversized body) is passed on exactly as the app sent
it, and reported as a *miss* so that the operator can see a protection that could not
apply.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import logging

import orjson

from .._types import Message, Send
from .problem import UNAVAILABLE, send_problem
from .request_view import is_json

logger = logging.getLogger("safe_accounts.enforcement")

REWRITE_FAILED = "response rewrite failed (%s)"

MAX_REWRITE_BYTES = 8 * 1024 * 1024

Rewrite = Callable[[Any, int], Awaitable[tuple[Any, list[tuple[bytes, bytes]]] | None]]
"""Given the parsed JSON and the status: (the new document, or None for the body as it was;
extra headers), or None to change nothing."""


class ResponseCapture:
    """A `send` wrapper for one response. Call `send`; afterwards `miss` says why it was not rewritten."""

    __slots__ = (
        "_send", "_rewrite", "_fail_closed", "_start", "_chunks", "_size", "_passing", "miss", "status", "error",
    )

    def __init__(self, send: Send, rewrite: Rewrite, *, fail_closed: bool = True) -> None:
        self._send = send
        self._rewrite = rewrite
        self._fail_closed = fail_closed
        self.error: BaseException | None = None
        self._start: Message | None = None
        self._chunks: list[bytes] = []
        self._size = 0
        self._passing = False
        self.miss: str | None = None
        self.status: int | None = None

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            self._start = message
            media, encoding = _content(message.get("headers") or ())
            if not is_json(media):
                self.miss = f"response is {media or 'untyped'}, not JSON"
            elif encoding not in ("", "identity"):
                self.miss = f"response is {encoding}-encoded"
            if self.miss is not None:
                self._passing = True
                await self._send(message)
            return
        if kind != "http.response.body" or self._passing:
            await self._send(message)
            return
        chunk = message.get("body", b"")
        self._size += len(chunk)
        if self._size > MAX_REWRITE_BYTES:
            self.miss = "response is larger than the rewrite limit"
            await self._flush_as_is()
            self._passing = True
            await self._send(message)
            return
        self._chunks.append(chunk)
        if message.get("more_body", False):
            return
        await self._finish()

    async def _flush_as_is(self) -> None:
        assert self._start is not None
        await self._send(self._start)
        if self._chunks:
            await self._send({"type": "http.response.body", "body": b"".join(self._chunks), "more_body": True})
            self._chunks = []

    async def _finish(self) -> None:
        assert self._start is not None
        body = b"".join(self._chunks)
        start = self._start
        try:
            document = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            self.miss = "response body is not valid JSON"
            document = None
        result = None
        if self.miss is None and document is not None:
            try:
                result = await self._rewrite(document, start["status"])
            except Exception as exc:  # noqa: BLE001 - a store failure or a bug of ours
                # The app's response may show accounts that should be hidden: never pass
                # it on unfiltered unless the rules say fail open.
                self.error = exc
                logger.warning(REWRITE_FAILED, exc.__class__.__name__)
                if self._fail_closed:
                    await send_problem(
                        self._send, UNAVAILABLE[0], UNAVAILABLE[1], 503,
                        "A safety check could not be completed. Please try again shortly.",
                    )
                    return
        if result is not None:
            new_document, extra_headers = result
            if new_document is not None:
                body = orjson.dumps(new_document)
            start = dict(start)
            start["headers"] = [
                (k, v) for k, v in start.get("headers") or () if k.lower() != b"content-length"
            ] + [(b"content-length", str(len(body)).encode())] + extra_headers
        await self._send(start)
        await self._send({"type": "http.response.body", "body": body, "more_body": False})


def _content(headers: Any) -> tuple[str, str]:
    media = encoding = ""
    for key, value in headers:
        name = key.lower()
        if name == b"content-type":
            media = value.decode("latin-1").partition(";")[0].strip().lower()
        elif name == b"content-encoding":
            encoding = value.decode("latin-1").strip().lower()
    return media, encoding
