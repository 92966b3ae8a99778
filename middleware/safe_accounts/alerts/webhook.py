"""Signed webhooks: how an alert reaches the platform's trust and safety tooling.

The body is the alert's JSON. `X-Safe-Accounts-Signature` is `v1=` + hex
HMAC-SHA256(secret, f"{timestamp}.{body}") with the timestamp in
`X-Safe-Accounts-Timestamp`, so a receiver can refuse forged and replayed calls (the
scheme Stripe and Slack use). `Idempotency-Key` is the alert id: the outbox delivers at
least once, and the receiver drops repeats on that key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import ConfigurationError, SafeAccountsError
from .model import Alert

SIGNATURE_HEADER = "X-Safe-Accounts-Signature"
TIMESTAMP_HEADER = "X-Safe-Accounts-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


class DeliveryFailed(SafeAccountsError):
    """A destination did not accept an alert; the outbox tries again later."""


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(
    secret: bytes, *, timestamp: str, signature: str, body: bytes, now: float, tolerance: float = 300
) -> bool:
    """For receivers: the signature is ours and the call is fresh."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs(now - stamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, stamp, body), signature)


def shown(url: str) -> str:
    """A URL as it may appear in logs and stored errors: scheme, host and port only. A path or
    query often carries a token (`.../hooks/T0K3N`), and userinfo a password."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}"


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str
    secret: bytes
    timeout: float = 5.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ConfigurationError(f"the webhook URL must start with http:// or https:// (got {shown(self.url)!r})")
        if len(self.secret) < 16:
            raise ConfigurationError("the webhook secret must be at least 16 bytes long")


class WebhookSender:
    """Posts alerts to one webhook. One connection pool for the process."""

    def __init__(self, webhook: Webhook, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._webhook = webhook
        self._clock = clock
        self._client = httpx.AsyncClient(timeout=webhook.timeout)

    def request_for(self, alert: Alert) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(alert.to_json(), separators=(",", ":")).encode()
        timestamp = int(self._clock.now())
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: alert.id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self._webhook.secret, timestamp, body),
        }
        return body, headers

    async def __call__(self, alert: Alert) -> None:
        body, headers = self.request_for(alert)
        try:
            response = await self._client.post(self._webhook.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"webhook {shown(self._webhook.url)} unreachable: {exc.__class__.__name__}") from exc
        if not response.is_success:
            raise DeliveryFailed(f"webhook {shown(self._webhook.url)} answered {response.status_code}")

    async def aclose(self) -> None:
        await self._client.aclose()
