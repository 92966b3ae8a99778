"""A named lookup against the host app: a SQL query (bound parameters only) or a callable.

Both are prepared once at start-up: the SQL is parsed into a `TextClause` with list
parameters marked as expanding (so `IN :targets` works on every dialect), the callable
is imported. At run time a lookup only binds values and runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import BindParameter

from .._callables import import_callable
from ..db.pool import connection
from ..errors import storage_errors
from ..policy import model

# Parameters that carry lists of ids and must be expanded into `IN (...)`.
LIST_PARAMS = frozenset({"targets", "accounts"})


class Lookup:
    """Runs one lookup: `rows(**params)` gives the rows' first column as strings."""

    __slots__ = ("name", "_engine", "_clause", "_params", "_fn")

    def __init__(
        self,
        name: str,
        engine: AsyncEngine | None,
        *,
        sql: str | None = None,
        fn: Callable[..., Any] | None = None,
    ) -> None:
        self.name = name
        # A lookup reads: without a transaction it is the query alone, with no BEGIN and
        # ROLLBACK round trips around it (each one a wait on a loaded worker's event loop).
        self._engine = None if engine is None else engine.execution_options(isolation_level="AUTOCOMMIT")
        self._fn = fn
        self._clause = None
        self._params: frozenset[str] = frozenset()
        if sql is not None:
            clause = text(sql)
            self._params = frozenset(clause._bindparams)  # noqa: SLF001 - parsed names
            expanding: list[BindParameter[Any]] = [bindparam(p, expanding=True) for p in self._params & LIST_PARAMS]
            self._clause = clause.bindparams(*expanding) if expanding else clause

    @property
    def params(self) -> frozenset[str]:
        return self._params

    async def rows(self, **params: Any) -> list[tuple[Any, ...]]:
        # A callable's backend fails the way our SQL does: both are the host's store.
        with storage_errors(f"lookup {self.name!r}"):
            if self._fn is not None:
                result = self._fn(**params)
                if inspect.isawaitable(result):
                    result = await result
                return [row if isinstance(row, tuple) else (row,) for row in (result or ())]
            assert self._clause is not None and self._engine is not None
            bound = {k: v for k, v in params.items() if k in self._params}
            async with connection(self._engine, self.name) as conn:
                rows = await conn.execute(self._clause, bound)
                return [tuple(r) for r in rows.all()]

    async def ids(self, **params: Any) -> list[str]:
        return [str(row[0]) for row in await self.rows(**params) if row and row[0] is not None]

    async def scalar(self, **params: Any) -> Any:
        rows = await self.rows(**params)
        return rows[0][0] if rows and rows[0] else None


def compile_lookup(name: str, spec: model.Lookup, engine: AsyncEngine | None) -> Lookup:
    if spec.callable is not None:
        return Lookup(name, engine, fn=import_callable(spec.callable))
    return Lookup(name, engine, sql=spec.sql)


def compile_lookups(
    specs: Mapping[str, model.Lookup], engine: AsyncEngine | None
) -> dict[str, Lookup]:
    return {name: compile_lookup(name, spec, engine) for name, spec in specs.items()}


def events_filtered_by(policy: model.PolicyFile, fact: str) -> frozenset[model.EventKind]:
    """The event kinds an enabled count signal of `policy` filters by `fact` (a `where:` field):
    only those pay for the fact's query."""
    return frozenset(
        signal.event
        for signal in policy.signals.counts
        if signal.enabled and getattr(signal.where, fact) is not None
    )
