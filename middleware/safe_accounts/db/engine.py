"""Async engines, configured once per process for the URL's dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..config import database_url


def make_engine(
    url: str | None = None, *, pool_size: int = 10, max_overflow: int = 10, **options: Any
) -> AsyncEngine:
    """An `AsyncEngine` for `url` (or the configured default).

    SQLite gets WAL and a busy timeout so that a web worker and the CLI can share
    the embedded file; PostgreSQL gets a pool of `pool_size` connections (and up to
    `max_overflow` more under a burst: the policy's `defaults.pool`) that checks
    connections before use, so a restarted server is survived without a restart of ours.
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
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=max_overflow, **options)
    if engine.dialect.driver == "asyncpg":
        event.listen(engine.sync_engine, "do_connect", _asyncpg_connect)
    return engine


def writer_engine(engine: AsyncEngine) -> AsyncEngine:
    """The engine a background writer (`db.batched`) writes with: on PostgreSQL a pool of
    its own, of one connection, in autocommit and not checked before use; elsewhere
    (SQLite) `engine` itself.

    A batch is then one statement sent once (asyncpg makes an executemany atomic by itself)
    where the lookup pool would first check the connection (the asyncpg dialect wraps that
    check in a transaction of its own) and then add BEGIN and COMMIT. Skipping the check is
    safe for a writer, not for a lookup: a batch sent on a connection the server has dropped
    fails, the connection is discarded, and the batch stays queued for the next write, as
    any failed batch does; a lookup that failed so would fail its request. The writer's
    lock has it write one batch at a time, so one connection is all it uses. Made from
    `engine`'s URL: the middleware's engines are made from a URL alone (`make_engine`)."""
    if not is_postgres(engine):
        return engine
    writer = create_async_engine(
        engine.url, pool_size=1, max_overflow=0, pool_pre_ping=False, isolation_level="AUTOCOMMIT"
    )
    if writer.dialect.driver == "asyncpg":
        event.listen(writer.sync_engine, "do_connect", _asyncpg_connect)
    return writer


def _asyncpg_connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
    """Connect, with the server's refusal (no such database, bad password) raised as a
    SQLAlchemy error like any other database error. SQLAlchemy 2.1 does this itself; 2.0
    let asyncpg's own exception through, so callers catching `SQLAlchemyError` missed it."""
    try:
        return dialect.connect(*cargs, **cparams)
    except Exception as exc:
        dbapi = dialect.loaded_dbapi
        if isinstance(exc, dbapi.Error):
            raise
        translate = dbapi._asyncpg_error_translate  # noqa: SLF001 - SQLAlchemy's own table of asyncpg errors
        for cls in type(exc).__mro__:
            if cls in translate:
                raise translate[cls](exc.args[0] if exc.args else str(exc)) from exc
        raise


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"
