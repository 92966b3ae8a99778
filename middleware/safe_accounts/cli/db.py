"""`safe-accounts db upgrade | downgrade REV | current`."""

from __future__ import annotations

import click

from ..db import migrate
from ._common import database_option, new_database_option, run
from ._settings import open_engine


async def _with_engine(url: str | None, fn, *args):  # type: ignore[no-untyped-def]
    engine = open_engine(url)
    try:
        return await fn(engine, *args)
    finally:
        await engine.dispose()


@click.group()
def db() -> None:
    """Our tables: create, upgrade, inspect."""


@db.command()
@new_database_option
@click.argument("revision", default="head")
def upgrade(database_url: str | None, revision: str) -> None:
    """Upgrade Safe Accounts' tables to REVISION (default: head)."""
    run(_with_engine, database_url, migrate.upgrade, revision)
    click.echo(f"upgraded to {revision}")


@db.command()
@database_option
@click.argument("revision")
def downgrade(database_url: str | None, revision: str) -> None:
    """Downgrade Safe Accounts' tables to REVISION (`base` removes them all)."""
    run(_with_engine, database_url, migrate.downgrade, revision)
    click.echo(f"downgraded to {revision}")


@db.command()
@database_option
def current(database_url: str | None) -> None:
    """Print the schema revision of the database and whether it is up to date."""
    found = run(_with_engine, database_url, migrate.current)
    head = migrate.head_revision()
    state = "up to date" if found == head else f"out of date (head is {head})"
    click.echo(f"{found or 'none'} ({state})")
