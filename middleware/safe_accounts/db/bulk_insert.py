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

A string longer than its column (an account id an app listed, of any length) is written
bounded (`bounded`): cut, with a digest of the whole value at its end, so that distinct
values stay distinct and the same value always reads the same. PostgreSQL refuses an
over-long value, and a row that can never be written would hold every row behind it in the
queue; SQLite would keep it whole, and the two databases would then disagree.

A JSON column's value may come already written, as the `bytes` of its JSON text (no JSON
serialiser takes `bytes`, so there is no other reading of them): it is sent as that text. A
row waiting in a writer's queue keeps its JSON this way rather than as the lists it was made
from: `bytes` are nothing the garbage collector tracks, while lists held until the next
batch outlive young collections, are promoted, and bring on full collections of the whole
process (docs/benchmarks.md, "Garbage the writers' queues kept").
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import JSON, String, Table
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


_DIGEST_BYTES = 16  # 32 hex characters: distinct values stay distinct


def bounded(value: str, length: int) -> str:
    """`value` as it fits a column of `length` characters: itself when it fits, else its
    start, `~` and a digest of the whole value."""
    if len(value) <= length:
        return value
    digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=_DIGEST_BYTES).hexdigest()
    keep = max(length - len(digest) - 1, 0)
    return f"{value[:keep]}~{digest}"[:length]


def driver_errors(dialect: Dialect) -> tuple[type[BaseException], ...]:
    """What the driver raises when a write fails (SQLAlchemy's own errors, raised while
    connecting, and `OSError` are caught beside these)."""
    if dialect.driver == "asyncpg":
        import asyncpg  # type: ignore[import-untyped]

        return (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)
    if dialect.name == "sqlite":
        return (sqlite3.Error,)
    return ()


def data_errors(dialect: Dialect) -> tuple[type[BaseException], ...]:
    """What the database raises about a row's values rather than about itself (a value it
    cannot store, a constraint the row breaks): writing the row again will never succeed.
    `TypeError` and `ValueError` come from a value no bind processor can take."""
    if dialect.driver == "asyncpg":
        import asyncpg

        return (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError, TypeError, ValueError)
    if dialect.name == "sqlite":
        return (sqlite3.DataError, sqlite3.IntegrityError, TypeError, ValueError)
    return (TypeError, ValueError)


class BulkInsert:
    """Rows of `table` written a batch at a time on one connection of `engine`."""

    def __init__(self, engine: AsyncEngine, table: Table) -> None:
        self.engine = engine
        dialect = engine.dialect
        compiled = insert_once(table, dialect.name).compile(dialect=dialect)
        if compiled.positiontup is None:
            raise ValueError(f"{dialect.name}: the batch INSERT needs a positional paramstyle")
        self._sql = compiled.string
        self._columns: list[tuple[str, Any, Callable[[Any], Any] | None, int | None, bool]] = []
        for name in compiled.positiontup:
            column = table.c[name]
            scalar = column.default is not None and column.default.is_scalar
            default = getattr(column.default, "arg", None) if scalar else None
            length = column.type.length if isinstance(column.type, String) else None
            process = column.type.dialect_impl(dialect).bind_processor(dialect)
            self._columns.append((name, default, process, length, isinstance(column.type, JSON)))
        self._commits = dialect.name == "sqlite"  # asyncpg's executemany commits by itself
        self.errors = driver_errors(dialect)
        self.refusals = data_errors(dialect)
        self._conn: AsyncConnection | None = None
        self.statements = 0  # batches sent

    def parameters(self, row: dict[str, Any]) -> tuple[Any, ...]:
        """`row` as the statement's positional parameters, each processed as SQLAlchemy would."""
        out = []
        for name, default, process, length, json in self._columns:
            value = row.get(name, default)
            if length is not None and isinstance(value, str) and len(value) > length:
                value = bounded(value, length)
            if json and type(value) is bytes:  # JSON text already written (module docstring)
                out.append(value.decode())
            else:
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
