"""Where the database and Redis are, and our Redis names, from arguments or the environment.

The embedded default is an SQLite file in the working directory and no Redis, so
that `make demo` and a first try need nothing running.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .errors import ConfigurationError

DATABASE_URL_ENV = "SAFE_ACCOUNTS_DATABASE_URL"
REDIS_URL_ENV = "SAFE_ACCOUNTS_REDIS_URL"
REDIS_PREFIX_ENV = "SAFE_ACCOUNTS_REDIS_PREFIX"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///safe_accounts.db"
DEFAULT_REDIS_PREFIX = "safe_accounts:"

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


def database_url(given: str | None = None) -> str:
    """The async SQLAlchemy URL to use: the argument, the environment, or the embedded default.

    Plain `postgresql://` and `sqlite://` URLs get their async driver, so users can paste
    the URL their app already has.
    """
    url = given or os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigurationError(f"database URL {url!r} has no scheme (expected e.g. postgresql://...)")
    if "+" not in scheme:
        if scheme not in _ASYNC_DRIVERS:
            raise ConfigurationError(
                f"database URL scheme {scheme!r} is not supported (use sqlite or postgresql)"
            )
        scheme = _ASYNC_DRIVERS[scheme]
    return f"{scheme}://{rest}"


def redis_url(given: str | None = None) -> str | None:
    """The Redis URL, or None for the single-process embedded default."""
    url = given or os.environ.get(REDIS_URL_ENV) or None
    if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigurationError(f"Redis URL {url!r} must start with redis://, rediss:// or unix://")
    return url


def redis_prefix(given: str | None = None) -> str:
    """The prefix of every Redis key and pub/sub channel of ours: the argument, the
    environment, or `safe_accounts:`. Two apps sharing one Redis need different ones."""
    prefix = given if given is not None else os.environ.get(REDIS_PREFIX_ENV) or DEFAULT_REDIS_PREFIX
    if not prefix or "{" in prefix or "}" in prefix:
        # Empty, our keys could not be told from the app's; braces would become a Redis
        # Cluster hash tag and put every key of ours in one slot.
        raise ConfigurationError(f"Redis prefix {prefix!r} must be non-empty and without braces")
    return prefix


def channel_prefix(prefix: str, redis_url: str | None) -> str:
    """Where our pub/sub channels' names start: the key prefix, then the database number.

    Keys live in the numbered database the URL selects, but a pub/sub channel is heard by
    every client of the server whatever database it selected: with the number in the name,
    two apps on databases 0 and 1 never hear each other's invalidations, even with the
    same prefix."""
    database = 0
    if redis_url is not None:
        from redis.connection import parse_url

        # redis-py leaves `parse_url` unannotated; it gives the client's keyword arguments.
        options: dict[str, Any] = parse_url(redis_url)  # type: ignore[no-untyped-call]
        database = int(options.get("db") or 0)
    return f"{prefix}db{database}:"


def without_password(url: str) -> str:
    """A URL fit for a log line or an error: the password in its userinfo replaced by `***`."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str
    redis_url: str | None
    redis_prefix: str = DEFAULT_REDIS_PREFIX

    def __repr__(self) -> str:
        redis = None if self.redis_url is None else without_password(self.redis_url)
        return (
            f"Settings(database_url={without_password(self.database_url)!r}, redis_url={redis!r}, "
            f"redis_prefix={self.redis_prefix!r})"
        )

    @property
    def channel_prefix(self) -> str:
        return channel_prefix(self.redis_prefix, self.redis_url)

    @classmethod
    def resolve(
        cls, database: str | None = None, redis: str | None = None, prefix: str | None = None
    ) -> Settings:
        return cls(database_url(database), redis_url(redis), redis_prefix(prefix))
