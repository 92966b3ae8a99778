"""Async engines, configured once per process for the URL's dialect."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..config import database_url

# A pooled connection back from use more recently than this is handed out without a ping.
# The asyncpg dialect's ping is three round trips (BEGIN, the ping, ROLLBACK): under load
# they cost the worker as much as the lookup's query, to check a connection that answered
# a moment ago. One idle longer, or never used, is pinged as before, so a server restarted
# while the pool sat idle is survived without a failed request.
PING_AFTER_IDLE = 1.0  # seconds
_RETURNED_AT = "safe_accounts_returned_at"


def make_engine(
    url: str | None = None, *, pool_size: int = 10, max_overflow: int = 10, **options: Any
) -> AsyncEngine:
    """An `AsyncEngine` for `url` (or the configured default).

    SQLite gets WAL and a busy timeout so that a web worker and the CLI can share
    the embedded file; PostgreSQL gets a pool of `pool_size` connections (and up to
    `max_overflow` more under a burst: the policy's `defaults.pool`) that checks a
    connection idle for more than `PING_AFTER_IDLE` before use, so a restarted server is
    survived without a restart of ours. (A restart within that second fails the queries
    already on their way to it; the first such failure has the pool replace every
    connection it holds.)
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
    ping_when_idle = not options.get("pool_pre_ping", False)
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=max_overflow, **options)
    if engine.dialect.driver == "asyncpg":
        event.listen(engine.sync_engine, "do_connect", _asyncpg_connect)
    if ping_when_idle:
        event.listen(engine.sync_engine.pool, "connect", _returned)  # just opened: it answered
        event.listen(engine.sync_engine.pool, "checkin", _returned)
        event.listen(engine.sync_engine.pool, "checkout", _ping_if_idle)
    return engine


def _returned(_dbapi_conn: Any, record: Any) -> None:
    if record is not None:
        record.info[_RETURNED_AT] = time.monotonic()


def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    """Check a connection idle for longer than `PING_AFTER_IDLE` (or never used): one the
    server dropped is replaced (the pool retries the checkout) instead of failing a lookup."""
    returned = record.info.get(_RETURNED_AT)
    if returned is not None and time.monotonic() - returned < PING_AFTER_IDLE:
        return
    try:
        dbapi_conn.ping()
    except Exception as error:
        raise exc.DisconnectionError(f"connection dropped while idle: {error}") from error


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
