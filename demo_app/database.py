"""Where the demo app's tables live: an async SQLAlchemy engine from a URL.

The demo uses an SQLite file (`demo.db`); the same code runs on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .problems import ConfigurationProblem

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///demo.db"

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


def async_url(url: str) -> str:
    """`url` with an async driver: plain `sqlite://` and `postgresql://` URLs are accepted."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigurationProblem(f"database URL {url!r} has no scheme (e.g. sqlite:///demo.db)")
    if "+" not in scheme:
        if scheme not in _ASYNC_DRIVERS:
            raise ConfigurationProblem(
                f"database URL scheme {scheme!r} is not supported (use sqlite or postgresql)"
            )
        scheme = _ASYNC_DRIVERS[scheme]
    return f"{scheme}://{rest}"


def make_engine(url: str, **options: Any) -> AsyncEngine:
    url = async_url(url)
    if not url.startswith("sqlite"):
        return create_async_engine(url, pool_pre_ping=True, **options)
    # The middleware in front shares the file: WAL and a busy timeout let both write.
    engine = create_async_engine(url, connect_args={"timeout": 30}, **options)

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine
