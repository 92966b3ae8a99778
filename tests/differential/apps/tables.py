"""An app's own tables in a SQLite file: what it stores is the truth the tests judge by.

The file is the one the middleware is pointed at too, so that the policy's SQL (connections,
birth dates) reads the app's tables, as it would on a platform. The app uses the standard
library's `sqlite3` (autocommit, one connection) in a worker thread: a statement that waits
for SQLite's write lock must not block the event loop, or the middleware's own writer, which
holds that lock between two awaits, could never finish and release it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

Truth = dict[str, list[tuple[Any, ...]]]


class Tables:
    """The app's tables: `seed` rows at start; `mutable` tables are the ones requests change."""

    def __init__(
        self, path: Path, schema: str, seed: Mapping[str, Sequence[tuple[Any, ...]]], mutable: Sequence[str]
    ) -> None:
        self.path = path
        self.seed = {table: list(rows) for table, rows in seed.items()}
        self.mutable = tuple(mutable)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(schema)
        for table, rows in self.seed.items():
            self._insert(table, rows)
        self._seed_truth = self._truth()

    async def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return await asyncio.to_thread(self._rows, sql, params)

    async def one(self, sql: str, *params: Any) -> tuple[Any, ...] | None:
        rows = await self.rows(sql, *params)
        return rows[0] if rows else None

    async def write(self, sql: str, *params: Any) -> None:
        await asyncio.to_thread(self.db.execute, sql, params)

    async def truth(self) -> Truth:
        """What the requests changed: every mutable table's rows, in a stable order."""
        return await asyncio.to_thread(self._truth)

    def seed_truth(self) -> Truth:
        """`truth()` of the seed state, as read back from the file."""
        return self._seed_truth

    async def reset(self) -> None:
        """The mutable tables back to their seed rows."""
        await asyncio.to_thread(self._reset)

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return self.db.execute(sql, params).fetchall()

    def _truth(self) -> Truth:
        return {table: sorted(self._rows(f"SELECT * FROM {table}", ()), key=repr) for table in self.mutable}

    def _reset(self) -> None:
        for table in self.mutable:
            self.db.execute(f"DELETE FROM {table}")
            self._insert(table, self.seed.get(table, ()))

    def close(self) -> None:
        self.db.close()

    def _insert(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        for row in rows:
            marks = ", ".join("?" * len(row))
            self.db.execute(f"INSERT INTO {table} VALUES ({marks})", row)
