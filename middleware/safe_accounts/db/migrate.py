"""Run the shipped alembic migrations without the user writing an `alembic.ini`.

Our history lives in its own version table (`safe_accounts_alembic_version`), so it
sits beside the host app's own alembic history without touching it. On PostgreSQL
an advisory lock serialises upgrades: two workers starting at once do not race.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from .._resources import migrations_dir
from ..errors import SchemaOutOfDate
from .engine import is_postgres, make_engine
from .metadata import VERSION_TABLE

# pg_advisory_xact_lock key: "safe_accounts" folded into a bigint, fixed forever.
_PG_LOCK_KEY = 0x5AFE_ACC0_0000_0001 - (1 << 63)

UPGRADE_COMMAND = "safe-accounts db upgrade --database-url URL"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    # `%` is alembic's interpolation character; a path may contain one.
    config.set_main_option("script_location", str(migrations_dir()).replace("%", "%%"))
    config.attributes["version_table"] = VERSION_TABLE
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise SchemaOutOfDate(f"the shipped migrations have {len(heads)} heads: {heads}")
    return heads[0]


def _locked(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")


def _current(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


# Alembic keeps its running environment in module globals, so two migrations
# interleaved on one event loop would trample each other: one at a time per loop.
_loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _loop_locks.get(loop)
    if lock is None:
        lock = _loop_locks[loop] = asyncio.Lock()
    return lock


async def _run(engine: AsyncEngine, fn: Any) -> Any:
    async with _lock(), engine.begin() as conn:
        return await conn.run_sync(fn)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    def go(connection: Connection) -> None:
        _locked(connection)
        command.upgrade(alembic_config(connection), revision)

    await _run(engine, go)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    def go(connection: Connection) -> None:
        _locked(connection)
        command.downgrade(alembic_config(connection), revision)

    await _run(engine, go)


async def current(engine: AsyncEngine) -> str | None:
    revision: str | None = await _run(engine, _current)
    return revision


async def check_schema(engine: AsyncEngine) -> None:
    """Refuse to run on a schema that is not at the shipped head."""
    found = await current(engine)
    wanted = head_revision()
    if found != wanted:
        state = "has no Safe Accounts tables" if found is None else f"is at revision {found}"
        raise SchemaOutOfDate(
            f"the database {state}, this version of safe-accounts needs {wanted}: "
            f"run `{UPGRADE_COMMAND}`"
        )


async def upgrade_url(url: str | None = None, revision: str = "head") -> None:
    """Upgrade the database at `url` (or the configured one): the Python face of `db upgrade`."""
    engine = make_engine(url)
    try:
        await upgrade(engine, revision)
    finally:
        await engine.dispose()


__all__ = ["check_schema", "current", "downgrade", "head_revision", "is_postgres", "upgrade", "upgrade_url"]
