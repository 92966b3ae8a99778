"""`safe-accounts reports list [--status S] [--account ID] [--json]`: child-endangerment reports.

Ids, bands and times, newest first (a reporter's words, where the policy keeps them, are
shown on the report's case: `safe-accounts moderate show CASE`).
`safe-accounts alerts show ID` shows one report as it shows an alert; `alerts ack` and
`alerts resolve` act on either.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click
from sqlalchemy import select

from ..moderation.model import ItemStatus
from ..moderation.tables import reports
from ._common import database_option, run
from .report import checked_engine


def when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@click.group("reports")
def command() -> None:
    """Child-endangerment reports: the other half of the moderators' queue."""


@command.command("list")
@database_option
@click.option("--status", type=click.Choice([s.value for s in ItemStatus]), default=None,
              help="Only reports with this status.")
@click.option("--account", default=None, metavar="ID", help="Only reports about this account.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON document, for scripts.")
def list_reports(database_url: str, status: str | None, account: str | None, limit: int, as_json: bool) -> None:
    """The newest reports first."""

    async def go() -> list[dict[str, Any]]:
        query = select(reports).order_by(reports.c.at.desc(), reports.c.id).limit(limit)
        if status is not None:
            query = query.where(reports.c.status == status)
        if account is not None:
            query = query.where(reports.c.reported_id == account)
        async with checked_engine(database_url) as engine, engine.connect() as conn:
            return [{str(k): v for k, v in row.items()} for row in (await conn.execute(query)).mappings()]

    found = run(go)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    if not found:
        click.echo("no reports")
        return
    for row in found:
        # An erased id (a resolved report past retention) shows as `-`.
        click.echo(
            f"{row['id']}  {when(row['at'])}  {row['status']:<12}  "
            f"reported={row['reported_id'] or '-'} ({row['reported_band']})  "
            f"by={row['reporter_id'] or '-'} ({row['reporter_band']})"
        )
