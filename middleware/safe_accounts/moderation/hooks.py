"""How a moderator's action reaches the host app: only the host can suspend an account or
warn it, so those actions are handed to it - by a callback in the host's process, by a
signed webhook (the policy's `moderation.webhook`), or both.

The webhook is signed as the alert webhook is (alerts/webhook.py): `X-Safe-Accounts-Signature`
is `v1=` + hex HMAC-SHA256(secret, f"{timestamp}.{body}"), with `X-Safe-Accounts-Timestamp`,
and `Idempotency-Key` is the action's id. Delivery is tried once, while the moderator waits:
what happened is recorded in the action's `effect` and shown on the case, so a moderator
sees at once that a suspension did not reach the app and can take it again (the host drops
a repeat by its key).
"""

from __future__ import annotations

import inspect
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ..alerts.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Webhook,
    shown,
    sign,
)
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import ConfigurationError
from ..policy.model import ActionWebhook, PolicyFile
from .model import ModerationAction

logger = logging.getLogger("safe_accounts.moderation")

HOOK_FAILED = "moderation: the host's %s failed for %s on account %s: %s"

# What the host can carry out: the rest (ack, note, dismiss) changes nothing in the app.
HOST_ACTIONS = frozenset(
    {
        ModerationAction.WARN,
        ModerationAction.RESTRICT,
        ModerationAction.LIFT,
        ModerationAction.SUSPEND,
        ModerationAction.REFER_LAW_ENFORCEMENT,
    }
)
EVENT_TYPE = "safe_accounts.moderation_action"


@dataclass(frozen=True, slots=True)
class HostAction:
    """One moderator's action, as the host is told it: never the moderator's note."""

    id: str  # the action's id: the webhook's Idempotency-Key
    action: ModerationAction
    account_id: str
    case_id: str | None
    by: str
    at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "type": EVENT_TYPE,
            "id": self.id,
            "action": self.action.value,
            "account_id": self.account_id,
            "case_id": self.case_id,
            "by": self.by,
            "at": self.at,
        }


HostCallback = Callable[[HostAction], Any]


@dataclass(frozen=True, slots=True)
class _Target:
    webhook: Webhook
    actions: frozenset[ModerationAction]


class HostHooks:
    """The host's callback (sync or async; `on_action=`) and the policy's webhook."""

    def __init__(
        self,
        *,
        callback: HostCallback | None = None,
        webhook: Webhook | None = None,
        webhook_actions: frozenset[ModerationAction] = HOST_ACTIONS,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._callback = callback
        self._target = None if webhook is None else _Target(webhook, webhook_actions & HOST_ACTIONS)
        self._clock = clock

    @classmethod
    def of(
        cls,
        policy: PolicyFile | None,
        *,
        callback: HostCallback | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> HostHooks:
        """The callback, and the webhook the policy names (its URL and secret from the
        environment: a missing one is a `ConfigurationError` at start-up, never at the first
        suspension)."""
        spec = None if policy is None else policy.moderation.webhook
        webhook = None if spec is None else _webhook(spec, os.environ if environ is None else environ)
        actions = HOST_ACTIONS if spec is None else frozenset(ModerationAction(a) for a in spec.actions)
        return cls(callback=callback, webhook=webhook, webhook_actions=actions, clock=clock)

    @property
    def configured(self) -> bool:
        return self._callback is not None or self._target is not None

    async def tell(self, action: HostAction) -> list[str]:
        """Hand `action` to every hook that takes it; what each did, for the action's effect.
        Empty when no hook takes this action."""
        if action.action not in HOST_ACTIONS:
            return []
        said: list[str] = []
        if self._callback is not None:
            try:
                result = self._callback(action)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:  # noqa: BLE001 - the host's code: record what happened
                logger.error(HOOK_FAILED, "callback", action.action.value, action.account_id, exc)
                said.append(f"the host's callback failed: {exc.__class__.__name__}: {exc}"[:300])
            else:
                said.append("handed to the host's callback")
        target = self._target
        if target is not None and action.action in target.actions:
            said.append(await self._post(target.webhook, action))
        return said

    def request_for(self, webhook: Webhook, action: HostAction) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(action.to_json(), separators=(",", ":")).encode()
        timestamp = int(self._clock.now())
        return body, {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: action.id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(webhook.secret, timestamp, body),
        }

    async def _post(self, webhook: Webhook, action: HostAction) -> str:
        body, headers = self.request_for(webhook, action)
        where = shown(webhook.url)
        try:
            async with httpx.AsyncClient(timeout=webhook.timeout) as client:
                response = await client.post(webhook.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            logger.error(HOOK_FAILED, "webhook", action.action.value, action.account_id, exc)
            return f"the host's webhook {where} could not be reached ({exc.__class__.__name__})"
        if not response.is_success:
            logger.error(
                HOOK_FAILED, "webhook", action.action.value, action.account_id, response.status_code
            )
            return f"the host's webhook {where} answered {response.status_code}"
        return f"accepted by the host's webhook {where}"


def _webhook(spec: ActionWebhook, environ: Mapping[str, str]) -> Webhook:
    url, secret = environ.get(spec.url_env), environ.get(spec.secret_env)
    for name, value in ((spec.url_env, url), (spec.secret_env, secret)):
        if not value:
            raise ConfigurationError(
                f"the policy's moderation.webhook reads {name} from the environment, which is not set"
            )
    assert url is not None and secret is not None
    return Webhook(url, secret.encode(), timeout=spec.timeout_seconds)


def delivered(said: list[str]) -> bool:
    """Whether any hook took the action (for "suspended by the host")."""
    return any(s.startswith(("handed to", "accepted by")) for s in said)
