"""Async engines, configured once per process for the URL's dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..config import database_url


def make_engine(url: str | None = None, **options: Any) -> AsyncEngine:
    """An `AsyncEngine` for `url` (or the configured default).

    SQLite gets WAL and a busy timeout so that a web worker and the CLI can share
    the embedded file; PostgreSQL gets a pool that checks connections before use,
    so a restarted server is survived without a restart of ours.
    """
    url = database_url(url)
    if url.startswith("sqlite"):
        options.setdefault("connect_args", {"timeout": 30})
        engine = create_async_engine(url, **options)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    options.setdefault("pool_pre_ping", True)
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 10)
    return create_async_engine(url, **options)


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"
