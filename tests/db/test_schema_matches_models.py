"""The shipped migrations build exactly the tables the code describes (`db/schema.py`).

A column added to a Table but not to a migration (or the other way round) would work in
tests that create tables from metadata and fail in production: this catches it.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.db.metadata import TABLE_PREFIX, VERSION_TABLE
from safe_accounts.db.schema import metadata


def _ours(name: str | None, type_: str, _parent: object) -> bool:
    """Our tables only: the version table is alembic's, other tables are the host's."""
    if type_ == "table":
        return name is not None and name.startswith(TABLE_PREFIX) and name != VERSION_TABLE
    return True


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection,
        opts={"include_name": _ours, "compare_type": True, "version_table": VERSION_TABLE},
    )
    return list(compare_metadata(context, metadata))


async def test_the_migrated_database_matches_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        differences = await conn.run_sync(_differences)
    assert differences == []


def test_every_table_is_ours_by_its_prefix() -> None:
    assert metadata.tables
    assert all(name.startswith(TABLE_PREFIX) for name in metadata.tables)
