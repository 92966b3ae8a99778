"""The SQL pool is sized from the policy (`defaults.pool`), a request whose lookup cannot get
a connection in time for its query is refused at once, and health says where the time went."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock
from safe_accounts.db.pool import timings

from .conftest import POLICY, HostApp, Wrapped, drop_host_tables, seed

pytestmark = pytest.mark.postgres

ONE_CONNECTION = POLICY.replace("time_budget_ms: 2000", "time_budget_ms: 2000\n  pool: {size: 1, overflow: 0}")
assert ONE_CONNECTION != POLICY


@pytest.fixture
def database_url(postgres_database: str) -> str:
    """PostgreSQL only: SQLite keeps SQLAlchemy's own pool, `defaults.pool` is for PostgreSQL."""
    return postgres_database


@pytest.fixture
async def one_connection(
    engine: AsyncEngine, database_url: str, tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[Wrapped]:
    await seed(engine, clock)
    policy = tmp_path / "policy.yaml"
    policy.write_text(ONE_CONNECTION)
    host = HostApp()
    middleware = SafeAccountsMiddleware(
        host.build(), policy=policy, database_url=database_url, clock=clock, signals=None
    )
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Wrapped(host, middleware, client)
    await middleware.close()
    await drop_host_tables(engine)


async def test_the_policy_sizes_the_pool(one_connection: Wrapped) -> None:
    pool = timings(one_connection.middleware.engine).health()["pool"]
    assert (pool["size"], pool["max_overflow"]) == (1, 0)


async def test_a_lookup_that_cannot_get_a_connection_in_time_for_its_query_is_refused_at_once(
    one_connection: Wrapped,
) -> None:
    middleware = one_connection.middleware
    await middleware.start()
    # This worker's band reads have been taking 10 s: a 2 s budget cannot hold one more.
    timings(middleware.engine).of("bands").observe(0.0, 10.0)
    held = await middleware.engine.connect().start()  # the pool's one connection, busy
    try:
        dm = await one_connection.post("/api/v1/messages", "adult", json={"to": "kid"})
    finally:
        await held.close()
    assert dm.status_code == 503
    assert dm.headers["content-type"] == "application/problem+json"
    assert one_connection.reached("dm") == []
    health = (await one_connection.get("/.well-known/safe-accounts/health", None)).json()
    bands = health["lookups"]["by_kind"]["bands"]
    assert bands["gave_up_waiting"] == 1
    assert health["lookups"]["pool"]["size"] == 1


async def test_health_counts_shared_fetches_and_where_each_lookups_time_went(one_connection: Wrapped) -> None:
    assert (await one_connection.post("/api/v1/messages", "adult", json={"to": "kid"})).status_code == 403
    health = (await one_connection.get("/.well-known/safe-accounts/health", None)).json()
    lookups = health["lookups"]
    assert lookups["by_kind"]["bands"]["queries"] == 1
    assert sum(lookups["by_kind"]["bands"]["running_query"]["buckets"].values()) == 1
    assert lookups["shared_fetches"]["bands"] == {"fetches": 1, "joined": 0, "in_flight": 0}
    assert set(lookups["shared_fetches"]) == {
        "bands", "accounts.created_at", "relationships.connected", "relationships.mutual_count",
    }
