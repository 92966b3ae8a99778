"""The policy's time budget: how long the lookups of one request may take together.

A lookup that overruns it is a failed lookup like any other (`StorageError`): the request is
refused or goes on as the rules that could apply say (`failing.py`). Code above the stores
catches `StorageError` alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..db.pool import until
from ..errors import StorageError


class OverBudget(StorageError):
    """The lookups of a request did not finish within the policy's `defaults.time_budget_ms`."""


@asynccontextmanager
async def within(seconds: float) -> AsyncIterator[None]:
    """Cancel what runs inside after `seconds`, and raise `OverBudget` when it was cancelled.
    Lookups inside know the deadline: they wait for a pool connection only while their query
    could still finish before it (`db/pool.py`)."""
    try:
        async with asyncio.timeout(seconds) as timeout:
            when = timeout.when()
            assert when is not None
            with until(when):
                yield
    except TimeoutError as exc:
        raise OverBudget(f"time budget exceeded ({seconds * 1000:g} ms)") from exc
