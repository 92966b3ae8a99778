"""The queue: open alerts and reports, most urgent first; an item shows what a moderator needs."""

from __future__ import annotations

import json

from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.alerts.restrictions import Restrictions
from safe_accounts.clock import FrozenClock
from safe_accounts.moderation import Moderation, ModerationQueue

from .conftest import file_report, raise_alert
from .records import T0

H = 3600


async def test_restricted_accounts_first_then_accounts_many_children_report_then_the_oldest(
    engine: AsyncEngine, clock: FrozenClock, restrictions: Restrictions
) -> None:
    await raise_alert(engine, "old", "quiet-adult", T0)  # the oldest, nothing else about it
    await raise_alert(engine, "restricted", "restricted-adult", T0 + 5 * H)
    await restrictions.restrict("restricted-adult", reason="alert", by="system")
    many = [
        await file_report(engine, child, "13_15", "reported-adult", T0 + 2 * H + i)
        for i, child in enumerate(["kid-1", "kid-2", "kid-3"])
    ]
    await file_report(engine, "parent", "adult", "reported-by-adult", T0 + 1 * H)

    items = await ModerationQueue(engine).open_items()

    order = [(i.kind.value, i.account_id) for i in items]
    assert order[0] == ("alert", "restricted-adult")
    assert order[1:4] == [("report", "reported-adult")] * 3
    assert [i.id for i in items[1:4]] == many  # same weight: oldest first
    assert order[4:] == [("alert", "quiet-adult"), ("report", "reported-by-adult")]
    assert items[1].minor_reporters == 3 and "reported by 3 under-18 accounts" in items[1].reasons
    assert items[0].restricted and items[0].reasons[0] == "account restricted, awaiting a decision"
    assert items[5].minor_reporters == 0  # an adult's report does not weigh as a child's


async def test_resolved_items_leave_the_queue(engine: AsyncEngine, clock: FrozenClock) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    report_id = await file_report(engine, "kid", "13_15", "adult-x", T0)
    await Moderation(engine, clock=clock).take("a1", "dismiss", by="mod-1")
    assert [i.id for i in await ModerationQueue(engine).open_items()] == [report_id]


async def test_an_alert_shows_counts_timeline_bands_history_and_actions(
    engine: AsyncEngine, clock: FrozenClock, restrictions: Restrictions
) -> None:
    # The earlier alert was settled (a warning) before the account could be alerted again.
    await raise_alert(engine, "earlier", "adult-x", T0 - 10 * 86_400, signal="blocked-by-minors")
    moderation = Moderation(engine, restrictions=restrictions, clock=clock)
    await moderation.take("earlier", "warn", by="mod-2")
    await raise_alert(engine, "a1", "adult-x", T0)
    await file_report(engine, "teen", "16_17", "adult-x", T0 + H)
    clock.advance(60)
    await moderation.take("a1", "restrict", by="mod-1")

    item = await ModerationQueue(engine).item("a1")

    assert (item.kind.value, item.account_id, item.title, item.restricted) == (
        "alert",
        "adult-x",
        "rejected-by-minors",
        True,
    )
    assert item.counts == {"count": 5}
    assert [e["at"] for e in item.timeline] == sorted(
        e["at"] for e in item.timeline
    )  # oldest first
    assert set(item.bands) == {"13_15", "under_13", "16_17", "adult"}
    assert [a["id"] for a in item.account_alerts] == ["a1", "earlier"]
    assert [r["reporter_band"] for r in item.account_reports] == ["16_17"]
    assert [(r["created_by"], r["lifted_at"]) for r in item.account_restrictions] == [
        ("mod-1", None)
    ]
    assert [(a.action.value, a.by) for a in item.actions] == [("restrict", "mod-1")]
    assert [(a.action.value, a.item_id) for a in item.account_actions] == [("warn", "earlier")]
    document = json.dumps(item.to_json())
    assert "text" not in document and "message" not in document  # there is none to show


async def test_a_report_shows_its_reporter_and_the_accounts_other_reports(
    engine: AsyncEngine,
) -> None:
    first = await file_report(engine, "kid", "13_15", "adult-x", T0)
    await file_report(engine, "young", "under_13", "adult-x", T0 + H)
    item = await ModerationQueue(engine).item(first)
    assert item.title == "child-endangerment report"
    assert item.report == {
        "reporter_id": "kid",
        "reporter_band": "13_15",
        "reported_band": "adult",
        "decision_id": None,
    }
    assert [(e["other"], e["other_band"]) for e in item.timeline] == [
        ("kid", "13_15"),
        ("young", "under_13"),
    ]
