"""Answers that depend on who asks: never stored for anyone else, never revalidated blind.

On a protected route that can be read with GET, the same URL answers differently per
viewer: a filtered list, a redacted profile, a hidden one, a safety notice. A shared cache
that stores one viewer's answer would serve it to the next, and a validator (`ETag`,
`Last-Modified`) lets a client ask "is the app's body still this one?" and get a `304`
for a body it may not see. So, on those routes only:

- the request reaches the app without conditional or range headers: the app always
  answers a whole body, which we can judge;
- the answer loses its validators and any shared-cache directive, becomes
  `Cache-Control: private`, and `Vary`s on every header that identifies the viewer (from
  the policy's identity sources, computed once at start-up).
"""

from __future__ import annotations

from collections.abc import Sequence

from .._types import Message, Scope, Send
from ..policy import model

# Read by the app to answer 304, 412 or 206: each tells something of a body the viewer
# may not see, or cuts it where we cannot judge it.
_CONDITIONAL = frozenset(
    {b"if-none-match", b"if-modified-since", b"if-match", b"if-unmodified-since", b"if-range", b"range"}
)
# Validators, and cache-control headers aimed at shared caches only (RFC 9213 and the
# vendors' own), which a CDN obeys instead of `Cache-Control`.
_DROPPED = frozenset({b"etag", b"last-modified", b"cdn-cache-control", b"surrogate-control"})
_SHARED_ONLY = frozenset({"public", "s-maxage", "proxy-revalidate"})


def vary_of(sources: Sequence[model.IdentitySource]) -> tuple[bytes, ...]:
    """The request headers that name the viewer under these identity sources."""
    names: list[bytes] = []
    for source in sources or (model.ScopeUserIdentity(source="scope_user"),):
        if isinstance(source, model.ScopeUserIdentity | model.CallableIdentity):
            # The app's own authentication: a session cookie or a bearer token, we cannot know which.
            names += [b"authorization", b"cookie"]
        elif isinstance(source, model.HeaderIdentity):
            names.append(source.header.lower().encode("latin-1"))
        else:
            if source.header:
                names.append(source.header.lower().encode("latin-1"))
            if source.cookie:
                names.append(b"cookie")
            # A token in the query is part of the URL, which every cache already keys on.
    return tuple(dict.fromkeys(names))


def unconditional(scope: Scope) -> Scope:
    """The scope without conditional and range headers (a copy; the original is left alone)."""
    headers = scope.get("headers") or ()
    if not any(key in _CONDITIONAL for key, _ in headers):
        return scope
    return {**scope, "headers": [(k, v) for k, v in headers if k not in _CONDITIONAL]}


def personal(send: Send, vary: tuple[bytes, ...]) -> Send:
    """`send`, with the answer's caching headers made private to this viewer."""

    async def send_personal(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": personalise(message.get("headers") or (), vary)}
        await send(message)

    return send_personal


def personalise(headers: Sequence[tuple[bytes, bytes]], vary: tuple[bytes, ...]) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    directives: list[str] = []
    varies: list[bytes] = []
    for key, value in headers:
        name = key.lower()
        if name in _DROPPED or name.endswith(b"-cdn-cache-control"):
            continue
        if name == b"cache-control":
            directives += [d.strip() for d in value.decode("latin-1").split(",") if d.strip()]
        elif name == b"vary":
            varies += [v.strip() for v in value.split(b",") if v.strip()]
        else:
            out.append((key, value))
    # `private="field"` keeps only that field private: the rest would still be shared.
    kept = [d for d in directives if d.partition("=")[0].strip().lower() not in _SHARED_ONLY | {"private"}]
    out.append((b"cache-control", ", ".join(["private", *kept]).encode("latin-1")))
    if b"*" not in varies:
        seen = {v.lower() for v in varies}
        varies += [v for v in vary if v not in seen]
    if varies:
        out.append((b"vary", b", ".join(varies)))
    return out
