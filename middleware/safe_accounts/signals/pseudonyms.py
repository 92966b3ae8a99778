"""Account ids as they appear in signal keys and evidence.

With a key configured, an id becomes HMAC-SHA256(key, id) truncated to 128 bits and
base64url-encoded (22 characters): stable, so counting works, and not reversible without
the key. Without a key the id is kept, with `%`, `{` and `}` escaped so that an id can
never break the `{...}` Cluster hash tag around it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from ..errors import ConfigurationError

PSEUDONYM_BYTES = 16


class Pseudonyms:
    __slots__ = ("_key",)

    def __init__(self, key: bytes | None = None) -> None:
        if key is not None and len(key) < 16:
            raise ConfigurationError("the pseudonym key must be at least 16 bytes long")
        self._key = key

    @property
    def keyed(self) -> bool:
        return self._key is not None

    def of(self, account_id: str) -> str:
        if self._key is None:
            return account_id.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")
        digest = hmac.new(self._key, account_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:PSEUDONYM_BYTES]).rstrip(b"=").decode()
