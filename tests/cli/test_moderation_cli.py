"""`safe-accounts reports list`, `alerts show ID` for any item of the queue, and
`restrictions list | lift`: a moderator's day from a terminal."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from safe_accounts.alerts import AlertService
from safe_accounts.alerts.restrictions import Restrictions
from safe_accounts.alerts.tables import restrictions as restriction_rows
from safe_accounts.db.engine import make_engine
from safe_accounts.moderation.actions import Moderation
from safe_accounts.moderation.tables import moderation_actions, reports
from tests.alerts.crossings import AT, crossing
from tests.conftest import Ran

Cli = Callable[..., Ran]


@pytest.fixture
def account() -> str:
    """An account of this test's own (the PostgreSQL database is shared by the run)."""
    return f"adult-{uuid.uuid4().hex[:8]}"


def with_engine(url: str, work: Callable[..., Any]) -> Any:
    async def go() -> Any:
        engine = make_engine(url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def report_about(url: str, account: str, *, reporter: str, band: str = "13_15") -> str:
    report_id = uuid.uuid4().hex

    async def insert(engine: Any) -> None:
        async with engine.begin() as conn:
            await conn.execute(reports.insert().values(
                id=report_id, at=AT, reporter_id=reporter, reporter_band=band,
                reported_id=account, reported_band="adult", decision_id="d-1", status="open",
            ))

    with_engine(url, insert)
    return report_id


def test_reports_list_shows_who_reported_whom_newest_first(cli: Cli, database_url: str, account: str) -> None:
    first = report_about(database_url, account, reporter="child-1")
    second = report_about(database_url, account, reporter="child-2", band="under_13")
    ran = cli("reports", "list", "--account", account, "--database-url", database_url)
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert len(lines) == 2 and {first, second} == {line.split()[0] for line in lines}
    assert f"reported={account} (adult)" in ran.out and "by=child-2 (under_13)" in ran.out
    shown = json.loads(cli("reports", "list", "--account", account, "--json", "--database-url", database_url).out)
    assert {r["reporter_id"] for r in shown} == {"child-1", "child-2"}
    assert (
        cli("reports", "list", "--account", account, "--status", "resolved", "--database-url", database_url).out
        == "no reports\n"
    )


def test_alerts_show_takes_a_reports_id_too(cli: Cli, database_url: str, account: str) -> None:
    report = report_about(database_url, account, reporter="child-1")
    report_about(database_url, account, reporter="child-3")
    with_engine(database_url, lambda e: Moderation(e).take(report, "ack", by="mod-ann", note="looking"))
    ran = cli("alerts", "show", report, "--database-url", database_url)
    assert ran.code == 0, ran.err
    assert f"report     {report} (child-endangerment report)" in ran.out
    assert f"reported   {account} (adult)" in ran.out and "reporter   child-1 (13_15)" in ran.out
    assert "also       1 other reports about this account" in ran.out
    assert "ack by mod-ann: looking" in ran.out
    assert json.loads(cli("alerts", "show", report, "--json", "--database-url", database_url).out)["kind"] == "report"


def test_alerts_show_an_alert_with_its_restriction_and_actions(cli: Cli, database_url: str, account: str) -> None:
    alert = with_engine(database_url, lambda e: AlertService(e).raise_alert(crossing(subject=account)))
    with_engine(database_url, lambda e: Moderation(e).take(alert.id, "restrict", by="mod-ann"))
    ran = cli("alerts", "show", alert.id, "--database-url", database_url)
    assert ran.code == 0, ran.err
    assert f"subject    {account}" in ran.out and "count=5, threshold=5" in ran.out
    assert "(in force)" in ran.out and "restrict by mod-ann (restricted)" in ran.out


def test_an_unknown_item_is_a_message(cli: Cli, database_url: str) -> None:
    ran = cli("alerts", "show", "nope", "--database-url", database_url)
    assert ran.code == 1
    assert "error: there is no alert or report 'nope'" in ran.err and "reports list" in ran.err


def test_restrictions_list_then_lift_one_raised_by_an_alert(cli: Cli, database_url: str, account: str) -> None:
    alert = with_engine(database_url, lambda e: AlertService(e).raise_alert(crossing(subject=account)))
    with_engine(database_url, lambda e: Moderation(e).take(alert.id, "restrict", by="mod-ann"))
    ran = cli("restrictions", "list", "--account", account, "--database-url", database_url)
    assert ran.code == 0, ran.err
    assert (
        ran.out.startswith(f"{account}  since ")
        and "by mod-ann  in force" in ran.out
        and f"alert={alert.id}" in ran.out
    )

    lifted = cli("restrictions", "lift", account, "--by", "mod-bo", "--note", "a coach", "--database-url", database_url)
    assert lifted.code == 0, lifted.err
    assert lifted.out.strip() == f"lifted the restriction of {account} (recorded as a lift on alert {alert.id})"
    assert (
        cli("restrictions", "list", "--account", account, "--database-url", database_url).out
        == "no restrictions in force\n"
    )
    every = json.loads(
        cli("restrictions", "list", "--all", "--account", account, "--json", "--database-url", database_url).out
    )
    assert [(r["lifted_by"], r["lift_note"]) for r in every] == [("mod-bo", "a coach")]

    async def actions(engine: Any) -> list[str]:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(moderation_actions.c.action).where(moderation_actions.c.item_id == alert.id)
            )
            return sorted(r[0] for r in rows)

    assert with_engine(database_url, actions) == ["lift", "restrict"]


def test_lift_a_restriction_no_alert_raised(cli: Cli, database_url: str, account: str) -> None:
    with_engine(database_url, lambda e: Restrictions(e).restrict(account, reason="by hand", by="mod-ann"))
    ran = cli("restrictions", "lift", account, "--by", "mod-bo", "--database-url", database_url)
    assert (ran.code, ran.out.strip()) == (0, f"lifted the restriction of {account}"), ran.err

    async def lifted(engine: Any) -> list[Any]:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(restriction_rows.c.lifted_by).where(restriction_rows.c.account_id == account)
            )
            return [r[0] for r in rows]

    assert with_engine(database_url, lifted) == ["mod-bo"]


def test_lifting_what_is_not_restricted_is_a_message(cli: Cli, database_url: str, account: str) -> None:
    ran = cli("restrictions", "lift", account, "--by", "mod-bo", "--database-url", database_url)
    assert ran.code == 1
    assert f"error: {account!r} has no restriction in force" in ran.err
