"""What only the host can do reaches it: a callback in its process and a signed webhook,
each recorded in the action's effect, whether it took or not."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.alerts.webhook import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, sign
from safe_accounts.clock import FrozenClock
from safe_accounts.errors import ConfigurationError
from safe_accounts.moderation.casework import Casework
from safe_accounts.moderation.effects import Effects
from safe_accounts.moderation.hooks import HostAction, HostHooks
from safe_accounts.moderation.model import ModerationAction
from safe_accounts.moderation.tables import cases

from ..alerts.receiver import WebhookReceiver, free_port
from .conftest import raise_alert
from .records import T0
from .test_cases import load_policy_text

SECRET = b"host-webhook-secret-of-32-bytes!"
WEBHOOK = """
moderation:
  webhook: {url_env: HOST_HOOK_URL, secret_env: HOST_HOOK_SECRET, actions: [suspend, warn]}
"""


async def _case(engine: AsyncEngine, work: Casework) -> str:
    await raise_alert(engine, "a1", "adult-x", T0)
    await work.file()
    async with engine.connect() as conn:
        return str(await conn.scalar(select(cases.c.id)))


async def test_a_suspension_reaches_the_hosts_webhook_signed_and_without_the_note(
    engine: AsyncEngine, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = WebhookReceiver(free_port(), SECRET, now=T0)
    monkeypatch.setenv("HOST_HOOK_URL", receiver.url)
    monkeypatch.setenv("HOST_HOOK_SECRET", SECRET.decode())
    hooks = HostHooks.of(load_policy_text(WEBHOOK), clock=clock)
    work = Casework(engine, effects=Effects(engine, hooks=hooks, clock=clock), clock=clock)
    case_id = await _case(engine, work)
    await receiver.start()
    try:
        noted = await work.act(case_id, "note", by="mod-1", note="internal: seen before")
        record = await work.act(case_id, "suspend", by="mod-1", note="internal: do not share")
    finally:
        await receiver.stop()
    assert noted.effect is None  # a note changes nothing in the app: nothing is sent
    assert record.effect == (
        f"suspended by the host; accepted by the host's webhook http://127.0.0.1:{receiver.port}"
    )
    assert receiver.forged == 0
    assert receiver.accepted == [
        {
            "type": "safe_accounts.moderation_action",
            "id": record.id,
            "action": "suspend",
            "account_id": "adult-x",
            "case_id": case_id,
            "by": "mod-1",
            "at": T0,
        }
    ]
    assert receiver.keys == [record.id]  # Idempotency-Key: the host drops a repeat


async def test_the_signature_is_the_alert_webhooks_scheme(clock: FrozenClock) -> None:
    from safe_accounts.alerts.webhook import Webhook

    hooks = HostHooks(webhook=Webhook("https://host.example/hooks", SECRET), clock=clock)
    action = HostAction("act-1", ModerationAction.WARN, "adult-x", "case-1", "mod-1", T0)
    body, headers = hooks.request_for(Webhook("https://host.example/hooks", SECRET), action)
    assert json.loads(body)["action"] == "warn"
    assert headers[IDEMPOTENCY_HEADER] == "act-1"
    assert headers[SIGNATURE_HEADER] == sign(SECRET, int(T0), body)


async def test_an_unreachable_or_refusing_webhook_is_recorded_and_the_action_stands(
    engine: AsyncEngine, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOST_HOOK_URL", f"http://127.0.0.1:{free_port()}/hooks")
    monkeypatch.setenv("HOST_HOOK_SECRET", SECRET.decode())
    hooks = HostHooks.of(load_policy_text(WEBHOOK), clock=clock)
    work = Casework(engine, effects=Effects(engine, hooks=hooks, clock=clock), clock=clock)
    case_id = await _case(engine, work)
    record = await work.act(case_id, "suspend", by="mod-1")
    assert record.effect is not None
    assert record.effect.startswith("not suspended; the host's webhook http://127.0.0.1:")
    assert record.effect.endswith("could not be reached (ConnectError)")

    receiver = WebhookReceiver(free_port(), b"x" * 32, now=T0)  # another secret: a 401
    monkeypatch.setenv("HOST_HOOK_URL", receiver.url)
    hooks = HostHooks.of(load_policy_text(WEBHOOK), clock=clock)
    work = Casework(engine, effects=Effects(engine, hooks=hooks, clock=clock), clock=clock)
    await receiver.start()
    try:
        again = await work.act(case_id, "suspend", by="mod-1")
    finally:
        await receiver.stop()
    assert again.effect == (
        f"not suspended; the host's webhook http://127.0.0.1:{receiver.port} answered 401"
    )


async def test_only_the_actions_the_policy_lists_are_sent(clock: FrozenClock) -> None:
    from safe_accounts.alerts.webhook import Webhook

    sent: list[str] = []
    hooks = HostHooks(
        callback=lambda action: sent.append(action.action.value),
        webhook=Webhook(f"http://127.0.0.1:{free_port()}/never", SECRET),
        webhook_actions=frozenset(),
        clock=clock,
    )
    for name in ("ack", "note", "dismiss", "restrict", "lift", "warn", "refer_law_enforcement"):
        said = await hooks.tell(
            HostAction("a", ModerationAction(name), "adult-x", None, "mod-1", T0)
        )
        assert said == ([] if name in ("ack", "note", "dismiss") else ["handed to the host's callback"])
    assert sent == ["restrict", "lift", "warn", "refer_law_enforcement"]


def test_a_webhook_without_its_environment_stops_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HOST_HOOK_URL", raising=False)
    monkeypatch.setenv("HOST_HOOK_SECRET", SECRET.decode())
    with pytest.raises(ConfigurationError, match="reads HOST_HOOK_URL from the environment"):
        HostHooks.of(load_policy_text(WEBHOOK))
    monkeypatch.setenv("HOST_HOOK_URL", "https://host.example/hooks")
    monkeypatch.setenv("HOST_HOOK_SECRET", "short")
    with pytest.raises(ConfigurationError, match="at least 16 bytes"):
        HostHooks.of(load_policy_text(WEBHOOK))
