"""What every command shares: the URL options, running async code, turning our errors
into a message and a non-zero exit instead of a traceback."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

from ..config import DATABASE_URL_ENV, DEFAULT_REDIS_PREFIX, REDIS_PREFIX_ENV, REDIS_URL_ENV
from ..errors import SafeAccountsError
from ._settings import resolve_database, resolve_new_database, resolve_redis, resolve_redis_prefix

T = TypeVar("T")

_DATABASE_HELP = (
    f"SQLAlchemy URL (env {DATABASE_URL_ENV}, or that line in ./.env; default: the sqlite file "
    "safe_accounts.db here)."
)
# Every command but `db upgrade` expects the database to exist (see _settings.py).
database_option = click.option(
    "--database-url", envvar=DATABASE_URL_ENV, default=None, callback=resolve_database, help=_DATABASE_HELP
)
new_database_option = click.option(
    "--database-url",
    envvar=DATABASE_URL_ENV,
    default=None,
    callback=resolve_new_database,
    help=_DATABASE_HELP + " Created if it does not exist.",
)
redis_option = click.option(
    "--redis-url",
    envvar=REDIS_URL_ENV,
    default=None,
    callback=resolve_redis,
    help=f"Redis URL (env {REDIS_URL_ENV}, or that line in ./.env; default: none, single process).",
)
redis_prefix_option = click.option(
    "--redis-prefix",
    envvar=REDIS_PREFIX_ENV,
    default=None,
    callback=resolve_redis_prefix,
    help=f"The middleware's `redis_prefix=` (env {REDIS_PREFIX_ENV}, or that line in ./.env; "
    f"default: {DEFAULT_REDIS_PREFIX}): changes are announced on its channels.",
)


def run(coro_fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> T:
    return asyncio.run(coro_fn(*args, **kwargs))


def run_cli(group: click.Group) -> None:
    try:
        # Without standalone mode click returns an `Exit`'s code instead of exiting.
        code = group.main(standalone_mode=False)
        if isinstance(code, int) and code != 0:
            sys.exit(code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except SafeAccountsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except SQLAlchemyError as exc:
        # The database's own words, without the SQL or a traceback: e.g. "database "x" does not exist".
        reason = getattr(exc, "orig", None) or exc
        click.echo(f"error: database: {str(reason).splitlines()[0]}", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
