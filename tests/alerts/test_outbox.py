"""The outbox: alerts reach a webhook that was down, after a restart, exactly once each."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.alerts import AlertService, Webhook, WebhookSender, sign, verify
from safe_accounts.alerts.outbox import AlertOutbox
from safe_accounts.alerts.tables import alert_outbox
from safe_accounts.clock import FrozenClock

from .crossings import AT, crossing
from .receiver import WebhookReceiver, free_port

SECRET = b"s" * 32


async def outbox_rows(engine: AsyncEngine) -> list[dict]:  # type: ignore[type-arg]
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(select(alert_outbox))).mappings().all()]


async def test_a_down_webhook_gets_every_alert_exactly_once_when_it_is_back(engine: AsyncEngine) -> None:
    clock = FrozenClock(AT)
    receiver = WebhookReceiver(free_port(), SECRET, now=AT)
    sender = WebhookSender(Webhook(receiver.url, SECRET), clock=clock)
    outbox = AlertOutbox(engine, {"webhook": sender}, clock=clock, backoff=2.0)
    service = AlertService(engine, outbox=outbox, clock=clock)
    raised = [await service.raise_alert(crossing(subject=f"adult-{i}")) for i in range(3)]
    ids = sorted(a.id for a in raised if a is not None)

    assert await outbox.deliver_due() == 0  # nobody listening
    rows = await outbox_rows(engine)
    assert {(r["attempts"], r["next_attempt_at"]) for r in rows} == {(1, AT + 2.0)}
    assert all("unreachable" in r["last_error"] for r in rows)
    assert await outbox.deliver_due() == 0  # not due again yet: no attempt made
    assert {r["attempts"] for r in await outbox_rows(engine)} == {1}

    clock.advance(2.0)
    assert await outbox.deliver_due() == 0  # still down: the wait doubles
    assert {r["next_attempt_at"] for r in await outbox_rows(engine)} == {AT + 2.0 + 4.0}
    await sender.aclose()

    # The process restarts while the webhook comes back.
    await receiver.start()
    try:
        clock.advance(4.0)
        sender = WebhookSender(Webhook(receiver.url, SECRET), clock=clock)
        restarted = AlertOutbox(engine, {"webhook": sender}, clock=clock, backoff=2.0)
        assert await restarted.deliver_due() == 3
        assert await restarted.deliver_due() == 0
        await sender.aclose()
    finally:
        await receiver.stop()
    assert sorted(receiver.keys) == ids
    assert Counter(receiver.keys).most_common(1)[0][1] == 1
    assert sorted(a["id"] for a in receiver.accepted) == ids
    assert receiver.forged == 0
    assert all(r["delivered_at"] == AT + 6.0 for r in await outbox_rows(engine))


async def test_callbacks_are_destinations_too_and_a_failing_one_is_retried(engine: AsyncEngine) -> None:
    clock = FrozenClock(AT)
    calls: list[str] = []
    failures = [RuntimeError("moderation tool busy")]

    async def notify(alert):  # type: ignore[no-untyped-def]
        if failures:
            raise failures.pop()
        calls.append(alert.id)

    outbox = AlertOutbox(engine, {"callback:notify": notify}, clock=clock, backoff=1.0)
    alert = await AlertService(engine, outbox=outbox, clock=clock).raise_alert(crossing())
    assert alert is not None
    assert await outbox.deliver_due() == 0
    clock.advance(1.0)
    assert await outbox.deliver_due() == 1
    assert await outbox.deliver_due() == 0
    assert calls == [alert.id]


async def test_two_workers_do_not_both_deliver_one_row(engine: AsyncEngine) -> None:
    clock = FrozenClock(AT)
    calls: list[str] = []

    async def notify(alert):  # type: ignore[no-untyped-def]
        calls.append(alert.id)

    first = AlertOutbox(engine, {"callback:notify": notify}, clock=clock)
    second = AlertOutbox(engine, {"callback:notify": notify}, clock=clock)
    await AlertService(engine, outbox=first, clock=clock).raise_alert(crossing())
    delivered = await asyncio.gather(first.deliver_due(), second.deliver_due())
    assert sum(delivered) == 1 and len(calls) == 1


def test_signatures_verify_and_refuse_tampering_and_replays() -> None:
    body = b'{"id":"a1"}'
    signature = sign(SECRET, int(AT), body)
    assert verify(SECRET, timestamp=str(int(AT)), signature=signature, body=body, now=AT + 10)
    assert not verify(SECRET, timestamp=str(int(AT)), signature=signature, body=b'{"id":"a2"}', now=AT)
    assert not verify(b"x" * 32, timestamp=str(int(AT)), signature=signature, body=body, now=AT)
    assert not verify(SECRET, timestamp=str(int(AT)), signature=signature, body=body, now=AT + 3600)
    assert not verify(SECRET, timestamp="yesterday", signature=signature, body=body, now=AT)
