"""Moderators' actions: recorded with who and when, and made to take effect."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.alerts.restrictions import Restrictions
from safe_accounts.alerts.tables import alerts
from safe_accounts.alerts.tables import restrictions as restriction_rows
from safe_accounts.clock import FrozenClock
from safe_accounts.moderation import InvalidAction, Moderation, ModerationAction, UnknownItem
from safe_accounts.moderation.hooks import HostAction
from safe_accounts.moderation.tables import reports

from .conftest import file_report, raise_alert
from .records import T0


async def _status(engine: AsyncEngine, table, item_id: str) -> str:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return (
            await conn.execute(select(table.c.status).where(table.c.id == item_id))
        ).scalar_one()


async def test_an_action_is_recorded_with_who_when_and_the_note(
    engine: AsyncEngine, clock: FrozenClock
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    moderation = Moderation(engine, clock=clock)
    clock.advance(600)
    record = await moderation.take("a1", "ack", by=" mod-1 ", note="looking")
    assert (record.action, record.by, record.at, record.note, record.account_id) == (
        ModerationAction.ACK,
        "mod-1",
        T0 + 600,
        "looking",
        "adult-x",
    )
    assert [a.to_json() for a in await moderation.actions_on("a1")] == [record.to_json()]
    assert await _status(engine, alerts, "a1") == "acknowledged"


async def test_restrict_goes_through_restrictions_so_enforcement_sees_it_at_once(
    engine: AsyncEngine, clock: FrozenClock, restrictions: Restrictions
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    moderation = Moderation(engine, restrictions=restrictions, clock=clock)
    record = await moderation.take("a1", "restrict", by="mod-1")
    assert restrictions.is_restricted("adult-x")
    assert record.effect == "restricted"
    assert await _status(engine, alerts, "a1") == "resolved"
    async with engine.connect() as conn:
        row = (await conn.execute(select(restriction_rows))).mappings().one()
    assert (row["account_id"], row["created_by"], row["alert_id"]) == ("adult-x", "mod-1", "a1")

    again = await moderation.take("a1", "restrict", by="mod-2")
    assert again.effect == "already restricted"  # no second restriction row

    lifted = await moderation.take("a1", "lift", by="mod-2", note="false positive")
    assert lifted.effect == "restriction lifted"
    assert not restrictions.is_restricted("adult-x")
    async with engine.connect() as conn:
        rows = (await conn.execute(select(restriction_rows))).mappings().all()
    assert [(r["lifted_by"], r["lift_note"]) for r in rows] == [("mod-2", "false positive")]


async def test_restrict_may_take_the_running_middlewares_restrictions_later(
    engine: AsyncEngine, clock: FrozenClock, restrictions: Restrictions
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    moderation = Moderation(engine, restrictions=lambda: restrictions, clock=clock)
    await moderation.take("a1", "restrict", by="mod-1")
    assert restrictions.is_restricted("adult-x")


async def test_suspend_hands_the_host_the_action_and_is_recorded_either_way(
    engine: AsyncEngine, clock: FrozenClock
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    told: list[HostAction] = []

    async def carry_out(action: HostAction) -> None:
        told.append(action)

    record = await Moderation(engine, on_action=carry_out, clock=clock).take(
        "a1", "suspend", by="mod-1"
    )
    assert [(a.action, a.account_id, a.by, a.id) for a in told] == [
        (ModerationAction.SUSPEND, "adult-x", "mod-1", record.id)
    ]
    assert record.effect == "suspended by the host; handed to the host's callback"

    unhooked = await Moderation(engine, clock=clock).take("a1", "suspend", by="mod-1")
    assert unhooked.effect == "recorded only: no host hook is configured"

    def broken(action: HostAction) -> None:  # a plain function works too
        raise ConnectionError("accounts service down")

    failed = await Moderation(engine, on_action=broken, clock=clock).take(
        "a1", "suspend", by="mod-1"
    )
    assert failed.effect == (
        "not suspended; the host's callback failed: ConnectionError: accounts service down"
    )
    assert len(await Moderation(engine).actions_on("a1")) == 3


async def test_reports_are_items_too(engine: AsyncEngine, clock: FrozenClock) -> None:
    report_id = await file_report(engine, "kid", "13_15", "adult-x", T0)
    moderation = Moderation(engine, clock=clock)
    await moderation.take(report_id, "refer_law_enforcement", by="mod-1", note="case 42")
    assert await _status(engine, reports, report_id) == "resolved"


@pytest.mark.parametrize(
    "resolving", ["dismiss", "warn", "restrict", "suspend", "refer_law_enforcement"]
)
async def test_resolving_actions_resolve_the_item(
    engine: AsyncEngine, clock: FrozenClock, resolving: str
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    await Moderation(engine, clock=clock).take("a1", resolving, by="mod-1")
    assert await _status(engine, alerts, "a1") == "resolved"


@pytest.mark.parametrize("other", ["note", "lift"])
async def test_notes_and_lifts_leave_the_item_open(
    engine: AsyncEngine, clock: FrozenClock, other: str
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    await Moderation(engine, clock=clock).take("a1", other, by="mod-1")
    assert await _status(engine, alerts, "a1") == "open"


async def test_bad_actions_are_refused_with_a_reason(
    engine: AsyncEngine, clock: FrozenClock
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    moderation = Moderation(engine, clock=clock)
    with pytest.raises(InvalidAction, match="unknown moderation action 'ban'"):
        await moderation.take("a1", "ban", by="mod-1")
    with pytest.raises(InvalidAction, match="moderator's id"):
        await moderation.take("a1", "ack", by="  ")
    with pytest.raises(InvalidAction, match="at most 2000"):
        await moderation.take("a1", "note", by="mod-1", note="x" * 2001)
    with pytest.raises(UnknownItem, match="no alert or report 'nope'"):
        await moderation.take("nope", "ack", by="mod-1")
    assert await moderation.actions_on("a1") == []


async def test_an_erased_report_cannot_be_restricted(
    engine: AsyncEngine, clock: FrozenClock
) -> None:
    report_id = await file_report(engine, "kid", "13_15", "adult-x", T0)
    async with engine.begin() as conn:
        await conn.execute(reports.update().values(reporter_id=None, reported_id=None))
    with pytest.raises(InvalidAction, match="erased by retention"):
        await Moderation(engine, clock=clock).take(report_id, "restrict", by="mod-1")
