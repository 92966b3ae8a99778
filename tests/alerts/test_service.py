"""AlertService: a crossing becomes one stored alert, with its escalation and deliveries."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.alerts import AlertService, AlertStatus, LiveAlertExists, Restrictions, UnknownAlert
from safe_accounts.alerts.outbox import AlertOutbox
from safe_accounts.alerts.tables import alert_outbox, restrictions
from safe_accounts.clock import FrozenClock
from safe_accounts.db.bulk_insert import bounded
from safe_accounts.db.metadata import ACCOUNT_ID_LENGTH

from .crossings import AT, WEEK, crossing


async def test_a_crossing_is_stored_with_its_counts_evidence_and_policy_version(engine: AsyncEngine) -> None:
    service = AlertService(engine, policy_version="baseline@3", clock=FrozenClock(AT + 1))
    alert = await service.raise_alert(crossing())
    assert alert is not None
    stored = await service.get(alert.id)
    assert stored == alert
    assert stored.subject == "adult-1" and stored.signal == "rejected-by-minors"
    assert stored.status is AlertStatus.OPEN
    assert stored.counts == {"count": 5, "threshold": 5}
    assert stored.policy_version == "baseline@3"
    assert stored.created_at == AT + 1
    assert stored.decision_id == "dec-1"
    assert [e["other"] for e in stored.evidence] == [f"child-{i}" for i in range(5)]
    assert set(stored.evidence[0]) == {"kind", "other", "other_band", "mutual", "at"}


async def test_the_same_crossing_twice_is_one_alert(engine: AsyncEngine) -> None:
    service = AlertService(engine)
    first = await service.raise_alert(crossing())
    again = await service.raise_alert(crossing(at=AT + 60))  # same fixed window
    assert first is not None and again is None
    assert await service.count() == 1


async def test_another_account_is_another_alert(engine: AsyncEngine) -> None:
    service = AlertService(engine)
    assert await service.raise_alert(crossing()) is not None
    assert await service.raise_alert(crossing(subject="adult-2")) is not None
    assert await service.count() == 2


@pytest.mark.parametrize("status", [AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED])
async def test_while_an_alert_is_not_resolved_further_crossings_join_it_instead_of_raising_more(
    engine: AsyncEngine, status: AlertStatus
) -> None:
    service = AlertService(engine)
    first = await service.raise_alert(crossing())
    assert first is not None
    await service.set_status(first.id, status)
    later = crossing(signal="blocked-by-minors", at=AT + WEEK)
    assert await service.raise_alert(later) is None
    assert await service.raise_alert(crossing(at=AT + 2 * WEEK)) is None
    assert await service.count() == 1
    stored = await service.get(first.id)
    assert stored is not None and stored.status is status
    assert stored.counts == {"count": 5, "threshold": 5, "crossings": 3, "blocked-by-minors": 5}
    # The later crossings' events join the evidence, each event once.
    times = sorted(e["at"] for e in stored.evidence)
    assert times == sorted({e.at for e in crossing().evidence} | {e.at for e in later.evidence} | {
        e.at for e in crossing(at=AT + 2 * WEEK).evidence
    })


async def test_once_the_alert_is_resolved_the_next_crossing_is_a_new_alert(engine: AsyncEngine) -> None:
    service = AlertService(engine)
    first = await service.raise_alert(crossing())
    assert first is not None
    await service.set_status(first.id, AlertStatus.RESOLVED)
    assert await service.raise_alert(crossing(at=AT + WEEK)) is not None
    assert await service.count() == 2


async def test_a_crossing_that_escalates_restricts_the_account_on_the_open_alert(engine: AsyncEngine) -> None:
    held = Restrictions(engine)
    await held.start()
    try:
        service = AlertService(engine, restrictions=held)
        first = await service.raise_alert(crossing(signal="requests-to-minors", restrict=False))
        assert first is not None and not held.is_restricted("adult-1")
        assert await service.raise_alert(crossing(restrict=True, at=AT + 60)) is None
        assert held.is_restricted("adult-1")
        async with engine.connect() as conn:
            rows = (await conn.execute(select(restrictions))).mappings().all()
        assert [(r["account_id"], r["alert_id"], r["created_by"]) for r in rows] == [
            ("adult-1", first.id, "system")
        ]
        # Restricted already: a further escalating crossing adds no second restriction.
        assert await service.raise_alert(crossing(signal="blocked-by-minors", restrict=True)) is None
        async with engine.connect() as conn:
            assert len((await conn.execute(select(restrictions))).all()) == 1
    finally:
        await held.close()


async def test_escalation_restricts_the_subject_in_the_same_transaction(engine: AsyncEngine) -> None:
    held = Restrictions(engine)
    await held.start()
    try:
        service = AlertService(engine, restrictions=held)
        alert = await service.raise_alert(crossing(restrict=True))
        assert alert is not None
        assert held.is_restricted("adult-1")
        assert not held.is_restricted("adult-2")
        async with engine.connect() as conn:
            rows = (await conn.execute(select(restrictions))).mappings().all()
        assert [(r["account_id"], r["alert_id"], r["created_by"], r["lifted_at"]) for r in rows] == [
            ("adult-1", alert.id, "system", None)
        ]
    finally:
        await held.close()


async def test_a_crossing_about_an_id_longer_than_our_tables_keep_is_stored_bounded(engine: AsyncEngine) -> None:
    # A crossing left pending from before recorders bounded ids: on PostgreSQL it failed for
    # ever, and every crossing after it waited behind it.
    held = Restrictions(engine)
    await held.start()
    try:
        service = AlertService(engine, restrictions=held)
        long_id = "a" * 100_000
        alert = await service.raise_alert(crossing(long_id, restrict=True))
        kept = bounded(long_id, ACCOUNT_ID_LENGTH)
        assert alert is not None and alert.subject == kept
        assert held.is_restricted(kept)
        async with engine.connect() as conn:
            rows = (await conn.execute(select(restrictions))).mappings().all()
        assert [r["account_id"] for r in rows] == [kept]
        assert [a.subject for a in await service.list()] == [kept]
        assert await service.raise_alert(crossing(long_id, at=AT + 60)) is None  # joins it, as ever
        assert await service.raise_alert(crossing("adult-2")) is not None
    finally:
        await held.close()


async def test_no_escalation_no_restriction(engine: AsyncEngine) -> None:
    held = Restrictions(engine)
    await held.start()
    try:
        await AlertService(engine, restrictions=held).raise_alert(crossing(restrict=False))
        assert not held.is_restricted("adult-1")
    finally:
        await held.close()


async def test_each_destination_gets_an_outbox_row_with_the_alert(engine: AsyncEngine) -> None:
    async def nowhere(alert):  # type: ignore[no-untyped-def]
        raise AssertionError("not delivered in this test")

    outbox = AlertOutbox(engine, {"webhook": nowhere, "callback:x": nowhere}, clock=FrozenClock(AT))
    alert = await AlertService(engine, outbox=outbox, clock=FrozenClock(AT)).raise_alert(crossing())
    assert alert is not None
    async with engine.connect() as conn:
        rows = (await conn.execute(select(alert_outbox))).mappings().all()
    assert sorted((r["destination"], r["alert_id"], r["attempts"], r["delivered_at"]) for r in rows) == [
        ("callback:x", alert.id, 0, None),
        ("webhook", alert.id, 0, None),
    ]


async def test_moderators_list_by_status_and_move_alerts_on(engine: AsyncEngine) -> None:
    clock = FrozenClock(AT)
    service = AlertService(engine, clock=clock)
    older = await service.raise_alert(crossing(subject="adult-1"))
    clock.advance(10)
    newer = await service.raise_alert(crossing(subject="adult-2"))
    assert older and newer
    assert [a.id for a in await service.list()] == [newer.id, older.id]
    await service.set_status(older.id, AlertStatus.ACKNOWLEDGED)
    assert [a.id for a in await service.list(status=AlertStatus.OPEN)] == [newer.id]
    assert [a.id for a in await service.list(status=AlertStatus.ACKNOWLEDGED)] == [older.id]
    with pytest.raises(UnknownAlert, match="no alert 'nope'"):
        await service.set_status("nope", AlertStatus.RESOLVED)


async def test_a_resolved_alert_is_not_reopened_beside_its_accounts_live_alert(engine: AsyncEngine) -> None:
    service = AlertService(engine)
    first = await service.raise_alert(crossing())
    assert first is not None
    await service.set_status(first.id, AlertStatus.RESOLVED)
    second = await service.raise_alert(crossing(at=AT + WEEK))
    assert second is not None
    with pytest.raises(LiveAlertExists, match="another alert that is not resolved"):
        await service.set_status(first.id, AlertStatus.OPEN)
    assert [a.id for a in await service.list(status=AlertStatus.OPEN)] == [second.id]
