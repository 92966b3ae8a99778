"""Counting what an asyncpg connection asks PostgreSQL: one count per request it sends and
then waits for the answer to (a query, a prepare, an execute, a pipelined executemany).

The connection's protocol object is wrapped, nothing else: every request still goes to the
real server over the real socket. It is how a test tells one round trip from many.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

# The protocol's coroutines that send a request and wait for its answer.
REQUESTS = frozenset({
    "query", "prepare", "bind_execute", "bind_execute_many", "bind", "execute",
    "close_statement", "copy_in", "copy_out",
})


class _Counting:
    def __init__(self, inner: Any, sent: list[str]) -> None:
        self._inner = inner
        self._sent = sent

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if name not in REQUESTS:
            return found

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self._sent.append(name)
            return await found(*args, **kwargs)

        return counted


def count_round_trips(engine: AsyncEngine) -> list[str]:
    """The list each new connection of `engine` appends its requests to, in order."""
    sent: list[str] = []

    @event.listens_for(engine.sync_engine, "connect")
    def _wrap(dbapi_connection: Any, _record: Any) -> None:
        raw = dbapi_connection._connection  # noqa: SLF001 - the asyncpg connection under SQLAlchemy's adapter
        raw._protocol = _Counting(raw._protocol, sent)  # noqa: SLF001

    return sent
