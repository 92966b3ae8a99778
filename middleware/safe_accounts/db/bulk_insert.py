"""A batch of rows in one INSERT, compiled once and sent on the driver's own connection.

SQLAlchemy writes the statement (`insert_once`, compiled once for the writer's dialect) and
each column's bind processing (a JSON column's serialiser); what it would do again per batch
- a pool checkout, a transaction, an execution context, a greenlet switch per call - costs
several times the statement itself on a batch of a few rows, so the rows go to the driver
directly, on one connection held for the purpose: asyncpg's `executemany` (one pipelined
request, atomic by itself, the statement prepared once per connection and cached), or
aiosqlite's `executemany` then `commit`.

A write that fails leaves its connection in a state nobody can vouch for: it is discarded,
and the next write opens another.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import Insert


def insert_once(table: Table, dialect: str) -> Insert:
    """`table`'s INSERT that skips a row whose primary key is written already (PostgreSQL,
    SQLite): a retried batch is then harmless."""
    keys = list(table.primary_key.columns)
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
    return table.insert()


def driver_errors(dialect: Dialect) -> tuple[type[BaseException], ...]:
    """What the driver raises when a write fails (SQLAlchemy's own errors, raised while
    connecting, and `OSError` are caught beside these)."""
    if dialect.driver == "asyncpg":
        import asyncpg  # type: ignore[import-untyped]

        return (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)
    if dialect.name == "sqlite":
        return (sqlite3.Error,)
    return ()


class BulkInsert:
    """Rows of `table` written a batch at a time on one connection of `engine`."""

    def __init__(self, engine: AsyncEngine, table: Table) -> None:
        self.engine = engine
        dialect = engine.dialect
        compiled = insert_once(table, dialect.name).compile(dialect=dialect)
        if compiled.positiontup is None:
            raise ValueError(f"{dialect.name}: the batch INSERT needs a positional paramstyle")
        self._sql = compiled.string
        self._columns: list[tuple[str, Any, Callable[[Any], Any] | None]] = []
        for name in compiled.positiontup:
            column = table.c[name]
            scalar = column.default is not None and column.default.is_scalar
            default = getattr(column.default, "arg", None) if scalar else None
            self._columns.append((name, default, column.type.dialect_impl(dialect).bind_processor(dialect)))
        self._commits = dialect.name == "sqlite"  # asyncpg's executemany commits by itself
        self.errors = driver_errors(dialect)
        self._conn: AsyncConnection | None = None
        self.statements = 0  # batches sent

    def parameters(self, row: dict[str, Any]) -> tuple[Any, ...]:
        """`row` as the statement's positional parameters, each processed as SQLAlchemy would."""
        out = []
        for name, default, process in self._columns:
            value = row.get(name, default)
            out.append(value if process is None or value is None else process(value))
        return tuple(out)

    async def write(self, rows: Sequence[dict[str, Any]]) -> None:
        params = [self.parameters(row) for row in rows]
        conn = self._conn
        if conn is None:
            conn = self._conn = await self.engine.connect()
        try:
            driver = (await conn.get_raw_connection()).driver_connection
            self.statements += 1
            await driver.executemany(self._sql, params)  # type: ignore[union-attr]
            if self._commits:
                await driver.commit()  # type: ignore[union-attr]
        except BaseException:
            self._conn = None
            with contextlib.suppress(Exception):
                await conn.invalidate()
            raise

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()
