"""`safe-accounts alerts list [--status open] [--json] | show ID`.

Shows the rule, the counts and the evidence (kinds, bands, mutual counts, times) - there is
no message text to show: none is ever stored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from ..alerts.model import Alert, AlertStatus, UnknownAlert
from ..alerts.service import AlertService
from ..db.engine import make_engine
from ..db.migrate import check_schema
from ._common import database_option, run


async def _with_service(url: str | None, fn, *args):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
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
@click.argument("alert_id")
@click.option("--json", "as_json", is_flag=True, help="The alert as JSON.")
def show(database_url: str | None, alert_id: str, as_json: bool) -> None:
    """One alert: rule, reason, counts and evidence."""

    async def go(service: AlertService) -> Alert:
        alert = await service.get(alert_id)
        if alert is None:
            raise UnknownAlert(f"there is no alert {alert_id!r} (see `safe-accounts alerts list`)")
        return alert

    alert = run(_with_service, database_url, go)
    if as_json:
        click.echo(json.dumps(alert.to_json(), indent=2))
        return
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
        mutual = "?" if item.get("mutual") is None else item["mutual"]
        click.echo(
            f"  {_when(item['at'])}  {item['kind']:<22} other={item['other']}  "
            f"band={item['other_band']}  mutual={mutual}"
        )


# Moderators' decisions on an alert (ack, resolve) belong to the moderation layer.
from .moderate import ack, resolve  # noqa: E402

command.add_command(ack)
command.add_command(resolve)
