"""Every error Safe Accounts raises on purpose, one type per thing a user must fix."""

from __future__ import annotations


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


class InvalidBand(SafeAccountsError, ValueError):
    """An age band, assurance level or birth date that cannot be accepted."""
