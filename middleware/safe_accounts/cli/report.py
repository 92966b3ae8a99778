"""`safe-accounts report transparency [--from DATE] [--to DATE] --format json|csv|html`.

The figures are computed by SQL from the stored records (docs/transparency.md defines
each one); `--output` writes to a file instead of standard output.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from ..db.migrate import check_schema
from ..errors import storage_errors
from ..moderation.render import FORMATS, render_report
from ..moderation.transparency import DEFAULT_WEEKS, Period, transparency_report
from ._common import database_option, run
from ._settings import open_engine


@asynccontextmanager
async def checked_engine(url: str | None) -> AsyncIterator[AsyncEngine]:
    """An engine on a schema at our head; database errors become one line, not a traceback."""
    engine = open_engine(url)
    try:
        with storage_errors("using the database"):
            await check_schema(engine)
            yield engine
    finally:
        await engine.dispose()


@click.group("report")
def command() -> None:
    """Reports computed from the stored records."""


@command.command("transparency")
@database_option
@click.option(
    "--from",
    "first",
    default=None,
    metavar="DATE",
    help=f"First day of the period (YYYY-MM-DD, UTC); default: the Monday {DEFAULT_WEEKS - 1} weeks "
    "before --to's, as the moderation app's page.",
)
@click.option(
    "--to", "last", default=None, metavar="DATE", help="Last day of the period, included; default: today."
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="json", show_default=True)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
def transparency(
    database_url: str | None, first: str | None, last: str | None, fmt: str, output: Path | None
) -> None:
    """Reports, alerts, blocked contacts, restrictions, response times, actions, open items.
    Without dates: the last 12 weeks, the period the moderation app shows."""
    # Bad dates stop here, before any connection.
    period = Period.around(first, last, today=time.time())

    async def go() -> str:
        async with checked_engine(database_url) as engine:
            return render_report(await transparency_report(engine, period), fmt)

    text = run(go)
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote the {fmt} report for {period.first} to {period.last} to {output}", err=True)
