"""A child's block, report or rejection that the app accepted is counted, even when the
safety lookups failed.

Blocks, reports and answers to contact requests protect nobody by being refused, so their
routes fail open: when a lookup fails or runs out of its time budget, the request still
goes to the app. But the app's 2xx is then an acknowledgement to the child, and what it
acknowledges (a signal event; for a report, a row in the moderation queue) must not be
lost. Found by the soak run: under load, lookups run out of their budget and these
events vanish without a log line.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock
from safe_accounts.db import migrate
from safe_accounts.db.engine import make_engine
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts
from tests.middleware.conftest import HostApp, Wrapped, seed

from .support import report_count


class _Down:
    """A band store whose database is down."""

    async def fetch(self, ids: Any) -> Any:
        raise ConnectionRefusedError("database down")


@pytest.fixture
async def wrapped_with_signals(tmp_path: Path, policy_file: Path, clock: FrozenClock) -> AsyncIterator[Wrapped]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fail-open.db'}"
    await migrate.upgrade_url(url)
    engine = make_engine(url)
    await seed(engine, clock)
    await engine.dispose()
    middleware = SafeAccountsMiddleware(
        HostApp().build(), policy=policy_file, database_url=url, clock=clock,
        signals=attach_grooming_alerts(flush_interval=0.01),
    )
    await middleware.start()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://t") as client:
        yield Wrapped(HostApp(), middleware, client)
    await middleware.close()


async def test_the_routes_fail_open_when_lookups_fail(wrapped_with_signals: Wrapped) -> None:
    w = wrapped_with_signals
    runtime = w.middleware.runtime
    assert runtime is not None
    runtime.bands.store = _Down()  # type: ignore[assignment]
    assert (await w.post("/api/blocks", "kid", json={"account": "adult"})).status_code == 200
    assert (await w.post("/api/reports", "kid", json={"account": "adult"})).status_code == 200
    assert (await w.post("/api/v1/messages", "adult", json={"to": "kid"})).status_code == 503


async def test_an_accepted_block_and_report_are_recorded_though_the_lookups_failed(
    wrapped_with_signals: Wrapped,
) -> None:
    w = wrapped_with_signals
    runtime = w.middleware.runtime
    assert runtime is not None
    store = runtime.bands.store
    runtime.bands.store = _Down()  # type: ignore[assignment]
    assert (await w.post("/api/blocks", "kid", json={"account": "adult"})).status_code == 200
    assert (await w.post("/api/reports", "kid", json={"account": "adult"})).status_code == 200
    runtime.bands.store = store  # the database is back
    await w.middleware.drain()
    alerts = runtime.alerts
    assert alerts.health()["signals"]["recorded"] == 2  # the block and the report
    assert await report_count(runtime.engine) == 1
