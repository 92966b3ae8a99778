"""CSRF protection for the moderation forms: a signed token bound to the moderator.

A token is `<issued>.<HMAC-SHA256(secret, moderator id | issued)>`, put in every form and
checked on every POST. A page on another site can make the moderator's browser post a
form (with the host's cookies), but cannot read our pages to learn a token, nor make one
without the secret; binding it to the moderator id means one moderator's token is no use
for another. Stdlib `hmac` only: no new dependency for 20 lines. The JSON API needs no
token: it accepts only `application/json`, which a cross-site form cannot send and a
cross-site script cannot send without a CORS preflight we never grant.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets

from ..clock import SYSTEM_CLOCK, Clock

logger = logging.getLogger("safe_accounts.moderation")

SECRET_ENV = "SAFE_ACCOUNTS_CSRF_SECRET"
RANDOM_SECRET = (
    "moderation app: no csrf_secret given and %s is not set; using a random one for this "
    "process (forms served by one worker will be refused by another)"
)
FIELD = "csrf_token"


class CsrfTokens:
    def __init__(
        self,
        secret: bytes | str | None = None,
        *,
        max_age: float = 12 * 3600,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        secret = secret if secret is not None else os.environ.get(SECRET_ENV)
        if secret is None:
            logger.warning(RANDOM_SECRET, SECRET_ENV)
            secret = secrets.token_bytes(32)
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self._max_age = max_age
        self._clock = clock

    def _mac(self, moderator: str, issued: int) -> str:
        message = f"{moderator}|{issued}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def issue(self, moderator: str) -> str:
        issued = int(self._clock.now())
        return f"{issued}.{self._mac(moderator, issued)}"

    def valid(self, moderator: str, token: str | None) -> bool:
        if not token:
            return False
        issued_text, _, mac = token.partition(".")
        try:
            issued = int(issued_text)
        except ValueError:
            return False
        age = self._clock.now() - issued
        if age < -60 or age > self._max_age:
            return False
        return hmac.compare_digest(self._mac(moderator, issued), mac)
