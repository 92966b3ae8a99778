"""GroomingAlerts: events in, one alert out, the account restricted, every destination told."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.alerts import Alert, GroomingAlerts, Webhook
from safe_accounts.alerts.pipeline import callback_destination
from safe_accounts.policy.model import EventKind
from tests.signals.policies import BASELINE_LIKE, event

from .crossings import AT
from .receiver import WebhookReceiver, free_port

SECRET = b"w" * 32


async def until(condition, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    give_up = loop.time() + seconds
    while not condition():
        assert loop.time() < give_up, "did not happen"
        await asyncio.sleep(0.02)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def signals_redis(request: pytest.FixtureRequest) -> tuple[str | None, str]:
    if request.param == "memory":
        return None, "safe_accounts:"
    return request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")


async def test_events_become_one_alert_a_restriction_and_deliveries(
    engine: AsyncEngine, signals_redis: tuple[str | None, str]
) -> None:
    redis_url, prefix = signals_redis
    receiver = WebhookReceiver(free_port(), SECRET, now=0)
    called: list[Alert] = []

    async def notify_moderators(alert: Alert) -> None:
        called.append(alert)

    alerts = GroomingAlerts.create(
        engine, redis_url, BASELINE_LIKE, prefix=prefix, policy_version="baseline@1",
        callbacks=[notify_moderators], webhook=Webhook(receiver.url, SECRET),
        flush_interval=0.01, outbox_poll_interval=0.05, pseudonym_key=b"p" * 32,
    )
    await receiver.start()
    await alerts.start()
    try:
        receiver.now = time.time()  # the sender signs with the real clock
        for i in range(8):  # threshold is 5: crossed once
            alerts.submit(event(EventKind.CONTACT_REJECTED, AT + i, other=f"child-{i}", decision_id=f"d{i}"))
        assert not alerts.restrictions.is_restricted("adult-1")  # nothing happens on the request path
        await until(lambda: len(called) == 1 and len(receiver.keys) == 1)
        assert alerts.restrictions.is_restricted("adult-1")
    finally:
        await alerts.close()
        await receiver.stop()
    (alert,) = called
    assert alert.signal == "rejected-by-minors" and alert.subject == "adult-1"
    assert alert.policy_version == "baseline@1" and alert.decision_id == "d4"
    assert receiver.keys == [alert.id]
    assert all(e["other"].startswith("child-") is False for e in alert.evidence)  # pseudonymised
    assert alerts.health()["signals"]["recorded"] == 8
    assert len(await alerts.service.list()) == 1


def test_callbacks_have_stable_outbox_names() -> None:
    async def notify(alert: Alert) -> None: ...

    assert callback_destination(notify) == (
        f"callback:{__name__}.test_callbacks_have_stable_outbox_names.<locals>.notify"
    )
