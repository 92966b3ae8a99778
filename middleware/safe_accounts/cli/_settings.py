"""Where a command's database and Redis are: the option, the environment, a `.env` file in
the working directory, then the embedded default - and the database must already exist.

`.env` is read with python-dotenv, the reader most tools that write one are written for
(quotes, `export`, comments, `${VAR}` from the environment), so a line means here what it
means to the app and its other tools. Only our own three names are taken from it, and the
environment is never changed.

An SQLite URL names a file that SQLite would create, empty, on the first connection: a
mistyped path or a command run from the wrong folder would then report "no tables" in a
database that was never there, and leave the empty file behind. A command that expects a
database (every one but `db upgrade`) refuses a missing file when it opens it
(`open_engine`), after checking its own input.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from dotenv import dotenv_values
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from ..config import (
    DATABASE_URL_ENV,
    DEFAULT_DATABASE_URL,
    REDIS_PREFIX_ENV,
    REDIS_URL_ENV,
    database_url,
    redis_url,
)
from ..db.engine import make_engine
from ..errors import StorageError

DOTENV = ".env"

NO_DATABASE = (
    "there is no database at {path} ({url}, from {origin}); SQLite would create an empty "
    "one. Name the app's database with --database-url, {env} or a line in {dotenv}, or "
    "create ours there with `safe-accounts db upgrade`"
)


def from_dotenv(name: str) -> str | None:
    """`name` as the `.env` file of the working directory sets it (None: no file, no line)."""
    path = Path(DOTENV)
    if not path.is_file():
        return None
    value = dotenv_values(path).get(name)
    return value or None


def _origin(ctx: click.Context, param: click.Parameter, env: str) -> str:
    source = ctx.get_parameter_source(param.name or "")
    if source is click.core.ParameterSource.COMMANDLINE:
        return "--" + (param.name or "").replace("_", "-")
    return f"${env}"


class DatabaseUrl(str):
    """The URL of a database a command expects to exist, and where it was given: checked
    by `open_engine`, once the command has checked its own input."""

    origin: str

    def __new__(cls, url: str, origin: str) -> DatabaseUrl:
        made = super().__new__(cls, url)
        made.origin = origin
        return made


def resolve_database(ctx: click.Context, param: click.Parameter, value: str | None) -> DatabaseUrl:
    """The option's callback: the async URL, from wherever it was given."""
    return DatabaseUrl(*_database(ctx, param, value))


def open_engine(url: str | None) -> AsyncEngine:
    """An engine on `url`; a `DatabaseUrl` naming an SQLite file that is not there is refused."""
    if isinstance(url, DatabaseUrl):
        must_exist(url, url.origin)
    return make_engine(url)


def resolve_new_database(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    """The option's callback for `db upgrade`, which may create the database (not a folder)."""
    url = _database(ctx, param, value)[0]
    name = _sqlite_file(url)
    if name is not None and not Path(name).parent.is_dir():
        # Said before connecting: aiosqlite's worker thread would report the failed connect
        # to an event loop that may already be closed.
        raise StorageError(f"cannot create the database: the folder {Path(name).parent} does not exist")
    return url


def _database(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, str]:
    """The async URL, and where it was given (for messages)."""
    if value is not None:
        origin = _origin(ctx, param, DATABASE_URL_ENV)
    elif (value := from_dotenv(DATABASE_URL_ENV)) is not None:
        origin = f"{DATABASE_URL_ENV} in {os.path.abspath(DOTENV)}"
    else:
        value, origin = DEFAULT_DATABASE_URL, "the default"
    return database_url(value), origin


def must_exist(url: str, origin: str) -> None:
    """Refuse an SQLite URL whose file is not there (see the module docstring)."""
    name = _sqlite_file(url)
    if name is not None and not Path(name).is_file():
        raise StorageError(
            NO_DATABASE.format(
                path=os.path.abspath(name), url=url, origin=origin, env=DATABASE_URL_ENV, dotenv=DOTENV
            )
        )


def _sqlite_file(url: str) -> str | None:
    """The file an SQLite URL names (None: not SQLite, or a database in memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    name = parsed.database or ""
    if name in ("", ":memory:") or name.startswith("file:") or parsed.query.get("mode") == "memory":
        return None
    return name


def resolve_redis(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    return redis_url(value if value is not None else from_dotenv(REDIS_URL_ENV))


def resolve_redis_prefix(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    return value if value is not None else from_dotenv(REDIS_PREFIX_ENV)
