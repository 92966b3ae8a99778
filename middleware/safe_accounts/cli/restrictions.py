"""`safe-accounts restrictions list [--all] [--json] | lift ACCOUNT --by WHO`.

A restriction keeps an account away from children (the policy's `actor_restricted` rules)
until a moderator decides. Raised by an alert's escalation or by a moderator; lifted here,
in the moderation app, or by `alerts resolve`. A lift from here is recorded on the
restriction (who, when, the note) and, when an alert raised it, as a `lift` action on that
alert, as the moderation app records it. With a Redis URL every running worker sees the
lift at once; without one, on its next refresh (10 s by default).
"""

from __future__ import annotations

import json
from typing import Any

import click
from sqlalchemy import select

from ..alerts.tables import restrictions as restriction_rows
from ..moderation.actions import Moderation
from ..moderation.model import InvalidAction, ModerationAction
from ._common import database_option, redis_option, redis_prefix_option, run
from .moderate import _restrictions
from .report import checked_engine
from .reports import when


@click.group("restrictions")
def command() -> None:
    """Restricted accounts: list them, lift one."""


@command.command("list")
@database_option
@click.option("--all", "everything", is_flag=True, help="Lifted restrictions too.")
@click.option("--account", default=None, metavar="ID", help="Only this account's restrictions.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON document, for scripts.")
def list_restrictions(database_url: str, everything: bool, account: str | None, limit: int, as_json: bool) -> None:
    """Restrictions in force (with --all, every one), newest first."""

    async def go() -> list[dict[str, Any]]:
        query = select(restriction_rows).order_by(restriction_rows.c.created_at.desc(), restriction_rows.c.id.desc())
        if not everything:
            query = query.where(restriction_rows.c.lifted_at.is_(None))
        if account is not None:
            query = query.where(restriction_rows.c.account_id == account)
        async with checked_engine(database_url) as engine, engine.connect() as conn:
            rows = await conn.execute(query.limit(limit))
            return [{str(k): v for k, v in row.items()} for row in rows.mappings()]

    found = run(go)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    if not found:
        click.echo("no restrictions" if everything else "no restrictions in force")
        return
    for row in found:
        state = "in force" if row["lifted_at"] is None else f"lifted {when(row['lifted_at'])} by {row['lifted_by']}"
        alert = f"  alert={row['alert_id']}" if row["alert_id"] else ""
        click.echo(
            f"{row['account_id']}  since {when(row['created_at'])} by {row['created_by']}  {state}{alert}  "
            f"reason: {row['reason']}"
        )


@command.command("lift")
@database_option
@redis_option
@redis_prefix_option
@click.argument("account")
@click.option("--by", required=True, metavar="WHO", help="The moderator lifting it (recorded).")
@click.option("--note", default="", help="Kept with the restriction (never shown to the account).")
def lift(database_url: str, redis_url: str | None, redis_prefix: str | None, account: str, by: str, note: str) -> None:
    """Lift ACCOUNT's restriction: it may reach children again as the other rules allow."""
    if not by.strip():
        raise click.BadParameter("say who is lifting it", param_hint="--by")

    async def go() -> str:
        async with checked_engine(database_url) as engine:
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(
                        select(restriction_rows.c.alert_id)
                        .where(restriction_rows.c.account_id == account, restriction_rows.c.lifted_at.is_(None))
                        .order_by(restriction_rows.c.created_at.desc())
                    )
                ).all()
            if not rows:
                raise InvalidAction(f"{account!r} has no restriction in force (see `safe-accounts restrictions list`)")
            alert_id = next((alert for (alert,) in rows if alert is not None), None)
            async with _restrictions(engine, redis_url, redis_prefix) as restrictions:
                if alert_id is not None:
                    await Moderation(engine, restrictions=restrictions).take(
                        alert_id, ModerationAction.LIFT, by=by, note=note
                    )
                    return f"lifted the restriction of {account} (recorded as a lift on alert {alert_id})"
                await restrictions.lift(account, by=by.strip(), note=note.strip())
                return f"lifted the restriction of {account}"

    click.echo(run(go))
