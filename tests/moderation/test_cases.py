"""Cases: items about one account filed together, due times, the queue's order, claims,
decisions that settle every item, legal holds, and the host's names for accounts."""

from __future__ import annotations

import asyncio
import tempfile
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.alerts.restrictions import Restrictions
from safe_accounts.alerts.tables import alerts
from safe_accounts.alerts.tables import restrictions as restriction_rows
from safe_accounts.clock import FrozenClock
from safe_accounts.moderation import InvalidAction, Moderation
from safe_accounts.moderation.cases import (
    UnknownCase,
    case_detail,
    count_open,
    file_new_items,
    open_cases,
)
from safe_accounts.moderation.casework import Casework
from safe_accounts.moderation.display import AccountNames
from safe_accounts.moderation.due import DueTimes
from safe_accounts.moderation.effects import Effects
from safe_accounts.moderation.tables import case_items, cases, moderation_actions, reports
from safe_accounts.policy.loader import load_policy
from safe_accounts.policy.model import PolicyFile

from .conftest import DISPLAY_POLICY, file_report, host_people, raise_alert
from .records import T0

H, D = 3600, 86_400


@pytest.fixture
def work(engine: AsyncEngine, clock: FrozenClock, restrictions: Restrictions) -> Casework:
    return Casework(engine, effects=Effects(engine, restrictions=restrictions, clock=clock), clock=clock)


async def _case_of(engine: AsyncEngine, account: str) -> str:
    async with engine.connect() as conn:
        found = await conn.scalar(
            select(cases.c.id).where(cases.c.account_id == account, cases.c.status == "open")
        )
    assert found is not None, f"no open case for {account}"
    return str(found)


def load_policy_text(extra: str) -> PolicyFile:
    """A policy extending the baseline with `extra` (YAML), loaded as the middleware loads it."""
    text = "version: 1\nname: due-test\nextends: baseline\n" + textwrap.dedent(extra)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "policy.yaml"
        path.write_text(text)
        return load_policy(path).policy


async def test_the_items_about_one_account_are_one_case_and_filing_twice_adds_nothing(
    engine: AsyncEngine, work: Casework
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    await file_report(engine, "kid", "13_15", "adult-x", T0 + 60)
    await file_report(engine, "young", "under_13", "adult-x", T0 + 120)
    await file_report(engine, "kid", "13_15", "adult-y", T0 + 180)
    assert await work.file() == 4
    assert await work.file() == 0
    found = await open_cases(engine, now=T0 + 200)
    assert sorted((c.account_id, c.alerts, c.reports) for c in found) == [
        ("adult-x", 1, 2),
        ("adult-y", 0, 1),
    ]
    x = next(c for c in found if c.account_id == "adult-x")
    assert (x.opened_at, x.minor_reporters, x.open_alerts, x.signals) == (
        T0,
        2,
        1,
        ("rejected-by-minors",),
    )


async def test_after_a_decision_a_new_item_about_the_account_opens_a_new_case(
    engine: AsyncEngine, work: Casework, clock: FrozenClock
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    await work.file()
    first = await _case_of(engine, "adult-x")
    await work.act(first, "dismiss", by="mod-1")
    await file_report(engine, "kid", "13_15", "adult-x", T0 + H)
    await work.file()
    second = await _case_of(engine, "adult-x")
    assert second != first
    detail = await case_detail(engine, second, now=T0 + H)
    assert [i.kind.value for i in detail.items] == ["report"]
    assert [c["id"] for c in detail.earlier] == [first]


async def test_filers_racing_in_many_connections_open_one_case_per_account(
    engine: AsyncEngine,
) -> None:
    for i in range(6):
        await file_report(engine, f"kid-{i}", "13_15", f"adult-{i % 2}", T0 + i)
    filed = await asyncio.gather(
        *(file_new_items(engine, DueTimes(), now=T0 + 10) for _ in range(4))
    )
    assert sum(filed) == 6
    async with engine.connect() as conn:
        opened = (await conn.execute(select(cases.c.account_id))).scalars().all()
        items = (await conn.execute(select(case_items.c.item_id))).scalars().all()
    assert sorted(opened) == ["adult-0", "adult-1"]
    assert len(items) == len(set(items)) == 6


async def test_due_times_come_from_the_policy_first_match_wins(engine: AsyncEngine) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    await raise_alert(engine, "a2", "adult-y", T0, signal="blocked-by-minors")
    await file_report(engine, "kid", "13_15", "adult-z", T0)
    await file_report(engine, "parent", "adult", "adult-z", T0 + H)
    defaults = DueTimes()
    assert defaults.alert("rejected-by-minors", T0) == T0 + D
    assert defaults.report("13_15", T0) == T0 + D
    assert defaults.report("unknown", T0) == T0 + D  # unknown age counts as a child
    assert defaults.report("adult", T0) == T0 + 3 * D

    policy = load_policy_text(
        """
        moderation:
          due:
            - {item: alert, signal: [blocked-by-minors], within: 2h}
            - {item: report, reporter_band: [under_13, "13_15"], within: 4h}
        """
    )
    custom = DueTimes.of(policy)
    await file_new_items(engine, custom, now=T0)
    async with engine.connect() as conn:
        due = dict((await conn.execute(select(case_items.c.item_id, case_items.c.due_at))).all())
    async with engine.connect() as conn:
        adult_report = await conn.scalar(select(reports.c.id).where(reports.c.reporter_id == "parent"))
    assert due["a1"] is None  # no entry for this signal: no due time
    assert due["a2"] == T0 + 2 * H
    assert due[adult_report] is None
    [z] = [c for c in await open_cases(engine, now=T0) if c.account_id == "adult-z"]
    assert z.due_at == T0 + 4 * H


async def test_the_queue_puts_overdue_cases_first_then_restricted_then_weight_then_due(
    engine: AsyncEngine, work: Casework, restrictions: Restrictions
) -> None:
    # adult-late: an adult's report, due 72 h after T0; adult-later: due 72 h after T0 + 1 h.
    await file_report(engine, "parent", "adult", "adult-late", T0)
    await file_report(engine, "parent", "adult", "adult-later", T0 + H)
    # adult-heavy: two children's reports, due a day after T0 + 70 h.
    await file_report(engine, "kid", "13_15", "adult-heavy", T0 + 70 * H)
    await file_report(engine, "young", "under_13", "adult-heavy", T0 + 70 * H)
    # adult-restricted: one adult's report, restricted now.
    await file_report(engine, "parent", "adult", "adult-restricted", T0 + 70 * H)
    await restrictions.restrict("adult-restricted", reason="test")
    # adult-soon: one child's report, due soonest among those not overdue.
    await file_report(engine, "kid", "13_15", "adult-soon", T0 + 60 * H)
    await work.file()
    now = T0 + 74 * H  # adult-late and adult-later are overdue (by 2 h and 1 h)
    order = [c.account_id for c in await open_cases(engine, now=now)]
    assert order == ["adult-late", "adult-later", "adult-restricted", "adult-heavy", "adult-soon"]
    assert await count_open(engine, now=now) == (5, 2)
    late = (await open_cases(engine, now=now))[0]
    assert late.reasons(now) == ["overdue"]


async def test_a_claimed_case_is_only_acted_on_by_its_moderator_until_taken_over(
    engine: AsyncEngine, work: Casework
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    await work.file()
    case_id = await _case_of(engine, "adult-x")
    await work.claim(case_id, by="mod-1")
    await work.claim(case_id, by="mod-1")  # claiming one's own case again changes nothing
    with pytest.raises(InvalidAction, match="claimed by mod-1"):
        await work.claim(case_id, by="mod-2")
    with pytest.raises(InvalidAction, match="claimed by mod-1"):
        await work.act(case_id, "dismiss", by="mod-2")
    await work.claim(case_id, by="mod-2", take_over=True)
    await work.unclaim(case_id, by="mod-2")
    record = await work.act(case_id, "ack", by="mod-3")  # unclaimed: acting claims it
    detail = await case_detail(engine, case_id, now=T0)
    assert detail.summary.claimed_by == "mod-3" and record.by == "mod-3"
    assert [(e["kind"], e["by"]) for e in detail.events] == [
        ("claimed", "mod-1"),
        ("claimed", "mod-2"),
        ("unclaimed", "mod-2"),
        ("claimed", "mod-3"),
    ]


async def test_a_decision_takes_effect_once_and_settles_every_item_of_the_case(
    engine: AsyncEngine, work: Casework, restrictions: Restrictions, clock: FrozenClock
) -> None:
    # An account has one live alert at a time (the store holds it); its case gathers that
    # alert and every report about the account.
    await raise_alert(engine, "a1", "adult-x", T0)
    first_report = await file_report(engine, "young", "under_13", "adult-x", T0 + 1)
    report_id = await file_report(engine, "kid", "13_15", "adult-x", T0 + 2)
    await work.file()
    case_id = await _case_of(engine, "adult-x")
    clock.advance(600)
    await work.act(case_id, "ack", by="mod-1")
    async with engine.connect() as conn:
        statuses = dict((await conn.execute(select(alerts.c.id, alerts.c.status))).all())
    assert statuses == {"a1": "acknowledged"}
    clock.advance(600)
    record = await work.act(case_id, "restrict", by="mod-1", note="pattern across children")
    assert record.effect == "restricted"
    assert restrictions.is_restricted("adult-x")
    async with engine.connect() as conn:
        restricted = (await conn.execute(select(restriction_rows))).all()
        rows = (
            await conn.execute(
                select(moderation_actions.c.item_id, moderation_actions.c.action).where(
                    moderation_actions.c.case_id == case_id
                )
            )
        ).all()
        report_status = await conn.scalar(select(reports.c.status).where(reports.c.id == report_id))
    assert len(restricted) == 1  # one restriction, however many items
    assert sorted(rows) == sorted(
        [(i, a) for i in ("a1", first_report, report_id) for a in ("ack", "restrict")]
    )
    assert report_status == "resolved"
    detail = await case_detail(engine, case_id, now=clock.now())
    assert (detail.open, detail.outcome, detail.resolved_by) == (False, "restrict", "mod-1")
    assert [a.action.value for a in detail.actions] == ["ack", "restrict"]  # once each
    with pytest.raises(InvalidAction, match="already decided"):
        await work.act(case_id, "dismiss", by="mod-1")
    lifted = await work.act(case_id, "lift", by="mod-1", note="appeal upheld")
    assert lifted.effect == "restriction lifted" and not restrictions.is_restricted("adult-x")


async def test_deciding_the_last_item_alone_decides_its_case(
    engine: AsyncEngine, work: Casework, clock: FrozenClock
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    report_id = await file_report(engine, "kid", "13_15", "adult-x", T0 + 2)
    moderation = Moderation(engine, clock=clock)
    await moderation.take("a1", "dismiss", by="mod-1")
    case_id = await _case_of(engine, "adult-x")
    await moderation.take(report_id, "warn", by="mod-1")
    detail = await case_detail(engine, case_id, now=T0)
    assert (detail.open, detail.outcome) == (False, "warn")


async def test_a_legal_hold_needs_a_reason_and_is_recorded(
    engine: AsyncEngine, work: Casework
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    await work.file()
    case_id = await _case_of(engine, "adult-x")
    with pytest.raises(InvalidAction, match="needs its reason"):
        await work.hold(case_id, by="mod-1", note=" ")
    await work.hold(case_id, by="mod-1", note="police ref 42")
    with pytest.raises(InvalidAction, match="already under legal hold"):
        await work.hold(case_id, by="mod-2", note="again")
    await work.release_hold(case_id, by="mod-2", note="case closed by the police")
    with pytest.raises(InvalidAction, match="not under legal hold"):
        await work.release_hold(case_id, by="mod-2")
    detail = await case_detail(engine, case_id, now=T0)
    assert detail.held_at is None
    assert [(e["kind"], e["note"]) for e in detail.events] == [
        ("held", "police ref 42"),
        ("released", "case closed by the police"),
    ]
    with pytest.raises(UnknownCase):
        await work.hold("missing", by="mod-1", note="x")


async def test_accounts_appear_by_the_hosts_names_and_by_id_when_the_host_cannot_say(
    engine: AsyncEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(DISPLAY_POLICY)
    names = AccountNames.of_policy(load_policy(path).policy, engine)
    async with host_people(engine):
        shown = await names.of(["adult-x", "nobody", None, "adult-x"])
    assert {k: v.label for k, v in shown.items()} == {
        "adult-x": "Alex Turner (@alex)",
        "nobody": "nobody",
    }
    # The table is gone: the lookup fails, moderators still see ids, and the log says why.
    fallback = await names.of(["adult-x"])
    assert fallback["adult-x"].label == "adult-x"
    assert "the display lookup failed" in caplog.text
