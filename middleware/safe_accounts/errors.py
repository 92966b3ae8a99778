"""Every error Safe Accounts raises on purpose, one type per thing a user must fix.

Stores raise one error, `StorageError`, whatever their backend: `storage_errors` is the one
place where SQLAlchemy's, redis-py's and the socket's errors become it (as `limits` wraps
its storages' errors), so code above the stores catches `StorageError` and nothing else.
"""

from __future__ import annotations

from types import TracebackType

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError


class SafeAccountsError(Exception):
    """Base of every error raised on purpose by Safe Accounts."""


class ConfigurationError(SafeAccountsError):
    """A setting (URL, table name, option) cannot be used as given."""


class PolicyError(SafeAccountsError):
    """A policy file cannot be loaded. Carries every problem found, each with file and line."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class PolicyProblem:
    """One thing wrong in a policy file: where it is and why."""

    __slots__ = ("file", "line", "column", "path", "reason")

    def __init__(
        self, file: str, line: int | None, reason: str, *, path: str = "", column: int | None = None
    ) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        field = f" ({self.path})" if self.path else ""
        return f"{where}: {self.reason}{field}"

    def __repr__(self) -> str:
        return f"PolicyProblem({str(self)!r})"


class SchemaOutOfDate(SafeAccountsError):
    """The database schema is behind (or ahead of) what this version of the package needs."""


class StorageError(SafeAccountsError):
    """SQL or Redis failed or ran out of time. The natural place for fail-open / fail-closed."""


# What a backend raises when it fails: SQLAlchemy's errors, redis-py's, and the socket's
# (asyncpg reports a refused or dropped connection as an OSError; TimeoutError is one too).
BACKEND_ERRORS: tuple[type[BaseException], ...] = (SQLAlchemyError, RedisError, OSError)


class storage_errors:  # noqa: N801 - used as a statement: `with storage_errors("..."):`
    """Turns a backend's error raised inside the block into `StorageError("<doing> failed:
    ...")`, chained to it; a `StorageError` passes as it is, anything else (a bug) too.

    ```python
    with storage_errors("reading age bands"):
        async with engine.connect() as conn: ...
    ```
    """

    __slots__ = ("doing",)

    def __init__(self, doing: str) -> None:
        self.doing = doing

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None or isinstance(exc, StorageError) or not isinstance(exc, BACKEND_ERRORS):
            return
        raise StorageError(f"{self.doing} failed: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    """The backend's own words: the driver's error under SQLAlchemy's wrapper, else the
    error's message, else its type (a bare TimeoutError says nothing)."""
    original = getattr(exc, "orig", None)
    return str(original or exc) or exc.__class__.__name__


class InvalidBand(SafeAccountsError, ValueError):
    """An age band, assurance level or birth date that cannot be accepted."""
