"""`safe-accounts alerts list [--status open] [--json] | show ID`.

Shows the rule, the counts and the evidence (kinds, bands, mutual counts, times) - there is
no message text to show: none is ever stored. `show` takes any item of the moderation
queue: an alert's id or a child-endangerment report's (`safe-accounts reports list`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from ..alerts.model import Alert, AlertStatus
from ..alerts.service import AlertService
from ..db.migrate import check_schema
from ..moderation.model import ItemKind, UnknownItem
from ..moderation.queue import ItemDetail, ModerationQueue
from ._common import database_option, run
from ._settings import open_engine
from .report import checked_engine


async def _with_service(url: str | None, fn, *args):  # type: ignore[no-untyped-def]
    engine = open_engine(url)
    try:
        await check_schema(engine)
        return await fn(AlertService(engine), *args)
    finally:
        await engine.dispose()


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _counts(alert: Alert) -> str:
    return ", ".join(f"{k}={v}" for k, v in alert.counts.items())


@click.group("alerts")
def command() -> None:
    """Grooming alerts: the moderators' queue."""


@command.command("list")
@database_option
@click.option("--status", type=click.Choice([s.value for s in AlertStatus]), default=None,
              help="Only alerts with this status.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON document, for scripts.")
def list_alerts(database_url: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """The newest alerts first."""

    async def go(service: AlertService) -> list[Alert]:
        return list(await service.list(status=AlertStatus(status) if status else None, limit=limit))

    found = run(_with_service, database_url, go)
    if as_json:
        click.echo(json.dumps([a.to_json() for a in found], indent=2))
        return
    if not found:
        click.echo("no alerts")
        return
    for alert in found:
        click.echo(
            f"{alert.id}  {_when(alert.created_at)}  {alert.status.value:<12}  {alert.signal}  "
            f"subject={alert.subject}  {_counts(alert)}"
        )


@command.command("show")
@database_option
@click.argument("item_id")
@click.option("--json", "as_json", is_flag=True, help="The item as JSON.")
def show(database_url: str | None, item_id: str, as_json: bool) -> None:
    """One item of the moderation queue, an alert or a child-endangerment report: for an
    alert its rule, reason, counts and evidence; for a report who reported whom; then the
    account's restrictions and the actions taken on the item."""

    async def go() -> tuple[Alert | None, ItemDetail]:
        async with checked_engine(database_url) as engine:
            try:
                detail = await ModerationQueue(engine).item(item_id)
            except UnknownItem:
                raise UnknownItem(
                    f"there is no alert or report {item_id!r} "
                    "(see `safe-accounts alerts list` and `safe-accounts reports list`)"
                ) from None
            alert = await AlertService(engine).get(item_id) if detail.kind is ItemKind.ALERT else None
            return alert, detail

    alert, detail = run(go)
    if as_json:
        click.echo(json.dumps(alert.to_json() if alert is not None else detail.to_json(), indent=2))
        return
    if alert is not None:
        _show_alert(alert)
    else:
        _show_report(detail)
    for restriction in detail.account_restrictions:
        state = "in force" if restriction["lifted_at"] is None else f"lifted {_when(restriction['lifted_at'])}"
        click.echo(
            f"restricted {_when(restriction['created_at'])} by {restriction['created_by']} ({state}): "
            f"{restriction['reason']}"
        )
    for action in detail.actions:
        effect = f" ({action.effect})" if action.effect else ""
        note = f": {action.note}" if action.note else ""
        click.echo(f"action     {_when(action.at)}  {action.action.value} by {action.by}{effect}{note}")


def _show_alert(alert: Alert) -> None:
    click.echo(f"alert      {alert.id}")
    click.echo(f"status     {alert.status.value}")
    click.echo(f"raised     {_when(alert.created_at)} (policy {alert.policy_version or '-'})")
    click.echo(f"subject    {alert.subject}")
    click.echo(f"signal     {alert.signal} (window {alert.window_key})")
    click.echo(f"reason     {alert.reason}")
    click.echo(f"counts     {_counts(alert)}")
    if alert.decision_id:
        click.echo(f"decision   {alert.decision_id}")
    click.echo(f"evidence   {len(alert.evidence)} most recent events, newest first:")
    for item in alert.evidence:
        if item.get("kind") == "score_part":  # a risk score's part: what it added, not an event
            click.echo(
                f"  {_when(item['at'])}  score part {item['signal']}: {item['value']} x {item['weight']} "
                f"= {item['contribution']}"
            )
            continue
        mutual = "?" if item.get("mutual") is None else item["mutual"]
        click.echo(
            f"  {_when(item['at'])}  {item['kind']:<22} other={item['other']}  "
            f"band={item['other_band']}  mutual={mutual}"
        )


def _show_report(detail: ItemDetail) -> None:
    report = detail.report or {}
    click.echo(f"report     {detail.id} (child-endangerment report)")
    click.echo(f"status     {detail.status.value}")
    click.echo(f"received   {_when(detail.created_at)}")
    click.echo(f"reported   {detail.account_id or '- (erased by retention)'} ({report.get('reported_band')})")
    click.echo(f"reporter   {report.get('reporter_id') or '-'} ({report.get('reporter_band')})")
    if report.get("decision_id"):
        click.echo(f"decision   {report['decision_id']}")
    others = [r for r in detail.account_reports if r["id"] != detail.id]
    if others:
        click.echo(f"also       {len(others)} other reports about this account")


# Moderators' decisions on an alert (ack, resolve) belong to the moderation layer.
from .moderate import ack, resolve  # noqa: E402

command.add_command(ack)
command.add_command(resolve)
