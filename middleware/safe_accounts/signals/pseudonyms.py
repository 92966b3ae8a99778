"""Account ids as they appear in signal keys and evidence.

With a key configured, an id becomes HMAC-SHA256(key, id) truncated to 128 bits and
base64url-encoded (22 characters): stable, so counting works, and not reversible without
the key. Without a key the id is kept, with `%`, `{` and `}` escaped so that an id can
never break the `{...}` Cluster hash tag around it.

A crossing waiting in Redis for its alert must name the real account, so it is *sealed*:
with a key, encrypted and authenticated (an HMAC-SHA256 keystream and tag, keys derived
from the pseudonym key; the standard library has no AES); without one, kept as it is,
since the key names hold it anyway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from ..errors import ConfigurationError

PSEUDONYM_BYTES = 16
_NONCE_BYTES = 16
_TAG_BYTES = 16


class UnreadableSeal(ValueError):
    """A sealed id that this key did not seal (another key, or tampered with)."""


class Pseudonyms:
    __slots__ = ("_key", "_stream_key", "_tag_key")

    def __init__(self, key: bytes | None = None) -> None:
        if key is not None and len(key) < 16:
            raise ConfigurationError("the pseudonym key must be at least 16 bytes long")
        self._key = key
        self._stream_key = None if key is None else hmac.new(key, b"seal:stream", hashlib.sha256).digest()
        self._tag_key = None if key is None else hmac.new(key, b"seal:tag", hashlib.sha256).digest()

    def of(self, account_id: str) -> str:
        if self._key is None:
            return account_id.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")
        digest = hmac.new(self._key, account_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:PSEUDONYM_BYTES]).rstrip(b"=").decode()

    def seal(self, account_id: str) -> str:
        """`account_id` in a form only this key reads back (`unseal`)."""
        if self._stream_key is None or self._tag_key is None:
            return account_id
        nonce = os.urandom(_NONCE_BYTES)
        plain = account_id.encode()
        body = bytes(a ^ b for a, b in zip(plain, self._stream(nonce, len(plain)), strict=True))
        tag = hmac.new(self._tag_key, nonce + body, hashlib.sha256).digest()[:_TAG_BYTES]
        return base64.urlsafe_b64encode(nonce + body + tag).decode()

    def unseal(self, sealed: str) -> str:
        """The account id `seal` was given. Raises UnreadableSeal."""
        if self._stream_key is None or self._tag_key is None:
            return sealed
        try:
            raw = base64.urlsafe_b64decode(sealed.encode())
        except ValueError as exc:
            raise UnreadableSeal("a sealed account id is not base64") from exc
        nonce, body, tag = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:-_TAG_BYTES], raw[-_TAG_BYTES:]
        expected = hmac.new(self._tag_key, nonce + body, hashlib.sha256).digest()[:_TAG_BYTES]
        if len(raw) < _NONCE_BYTES + _TAG_BYTES or not hmac.compare_digest(tag, expected):
            raise UnreadableSeal("a sealed account id was not sealed with this pseudonym key")
        return bytes(a ^ b for a, b in zip(body, self._stream(nonce, len(body)), strict=True)).decode()

    def _stream(self, nonce: bytes, length: int) -> bytes:
        assert self._stream_key is not None
        blocks = (length + 31) // 32
        return b"".join(
            hmac.new(self._stream_key, nonce + i.to_bytes(4, "big"), hashlib.sha256).digest()
            for i in range(blocks)
        )[:length]
