"""`safe-accounts alerts ack ID --by WHO` and `alerts resolve ID --action ACTION --by WHO`.

Moderation from the command line: the same actions, records and effects as the moderation
app (moderation/actions.py). ID is an alert's or a child-endangerment report's. With a
Redis URL a restriction reaches every running worker at once; without one, workers pick
it up on their next refresh (10 s by default). A suspension from here is recorded only:
the host's suspend hook lives in its app.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from ..alerts.restrictions import Restrictions
from ..config import channel_prefix
from ..config import redis_prefix as resolve_redis_prefix
from ..config import redis_url as resolve_redis_url
from ..moderation.actions import Moderation
from ..moderation.model import RESOLVING, ActionRecord, ModerationAction
from ._common import database_option, redis_option, redis_prefix_option, run
from .report import checked_engine

_RESOLVING = sorted(a.value for a in RESOLVING)


@asynccontextmanager
async def _restrictions(
    engine: AsyncEngine, redis_url: str | None, redis_prefix: str | None
) -> AsyncIterator[Restrictions]:
    url = resolve_redis_url(redis_url)
    channels = channel_prefix(resolve_redis_prefix(redis_prefix), url)
    restrictions = Restrictions(engine, redis_url=url, prefix=channels)
    await restrictions.start()
    try:
        yield restrictions
    finally:
        await restrictions.close()


def _take(
    database_url: str | None,
    redis_url: str | None,
    redis_prefix: str | None,
    item_id: str,
    action: ModerationAction,
    by: str,
    note: str,
) -> ActionRecord:
    async def go() -> ActionRecord:
        async with (
            checked_engine(database_url) as engine,
            _restrictions(engine, redis_url, redis_prefix) as restrictions,
        ):
            return await Moderation(engine, restrictions=restrictions).take(
                item_id, action, by=by, note=note
            )

    return run(go)


def _show(record: ActionRecord, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(record.to_json()))
        return
    when = datetime.fromtimestamp(record.at, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    effect = f" ({record.effect})" if record.effect else ""
    click.echo(
        f"{record.action.value} on {record.item_kind.value} {record.item_id} "
        f"(account {record.account_id or '-'}) by {record.by} at {when}{effect}"
    )


_by = click.option(
    "--by", required=True, metavar="WHO", help="The moderator taking the action (recorded)."
)
_note = click.option(
    "--note", default="", help="Kept with the action (never shown to the account)."
)
_json = click.option("--json", "as_json", is_flag=True, help="The recorded action as JSON.")


@click.command("ack")
@database_option
@redis_option
@redis_prefix_option
@click.argument("item_id")
@_by
@_note
@_json
def ack(
    database_url: str | None,
    redis_url: str | None,
    redis_prefix: str | None,
    item_id: str,
    by: str,
    note: str,
    as_json: bool,
) -> None:
    """Acknowledge an alert or report: the first response, without a decision yet."""
    _show(
        _take(database_url, redis_url, redis_prefix, item_id, ModerationAction.ACK, by, note), as_json
    )


@click.command("resolve")
@database_option
@redis_option
@redis_prefix_option
@click.argument("item_id")
@click.option(
    "--action", "action", required=True, type=click.Choice(_RESOLVING), help="The decision."
)
@_by
@_note
@_json
def resolve(
    database_url: str | None,
    redis_url: str | None,
    redis_prefix: str | None,
    item_id: str,
    action: str,
    by: str,
    note: str,
    as_json: bool,
) -> None:
    """Decide on an alert or report: dismiss, warn, restrict, suspend, refer to the police."""
    _show(
        _take(database_url, redis_url, redis_prefix, item_id, ModerationAction(action), by, note),
        as_json,
    )
