"""PostgreSQL stopped mid-run and started again, with nothing lost.

The wrapped host app runs on a private PostgreSQL cluster (never the shared one). While the
server is down, protected actions that need SQL get the documented fail-closed 503 problem,
requests the policy does not know are served as usual, and what the middleware decided
from its caches (decision-log rows, grooming-signal crossings, children's reports) waits in
memory. When the server is back, service resumes without a restart of the middleware and
everything that waited is written, once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock
from safe_accounts.db import migrate
from safe_accounts.db.engine import make_engine
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts
from tests.middleware.conftest import HostApp, Wrapped, seed

from .postgres_server import PostgresServer
from .support import alert_keys, decision_ids, eventually, report_count

pytestmark = pytest.mark.postgres

CHILDREN = ("kid", "young", "teen")


@pytest.fixture
async def on_private_postgres(
    private_postgres: PostgresServer, policy_file: Path, clock: FrozenClock
) -> AsyncIterator[Wrapped]:
    url = private_postgres.url()
    await migrate.upgrade_url(url)
    engine = make_engine(url)
    await seed(engine, clock)
    await engine.dispose()
    host = HostApp()
    middleware = SafeAccountsMiddleware(
        host.build(), policy=policy_file, database_url=url, clock=clock,
        signals=attach_grooming_alerts(flush_interval=0.01),
    )
    await middleware.start()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://testserver") as client:
        yield Wrapped(host, middleware, client)
    await middleware.close()


async def test_an_outage_fails_closed_recovers_by_itself_and_loses_nothing(
    on_private_postgres: Wrapped, private_postgres: PostgresServer
) -> None:
    w = on_private_postgres
    runtime = w.middleware.runtime
    assert runtime is not None
    # Warm the band cache for everyone in the scene (bands are cached; relationships are
    # not: this policy sets cache_seconds: 0, so a DM between two accounts always asks SQL).
    assert (await w.post("/api/v1/messages", "adult", json={"to": "kid"})).status_code == 403
    for child in CHILDREN:
        assert (await w.get(f"/api/accounts/{child}", child)).status_code == 200
    before = await decision_ids(runtime.engine)

    private_postgres.stop()

    # Protected actions that need SQL fail closed, with the documented problem: an actor
    # whose band is not cached, and a pair whose relationship was never looked up.
    for actor, child in (("other-adult", "kid"), ("adult", "teen")):
        dm = await w.post("/api/v1/messages", actor, json={"to": child})
        assert dm.status_code == 503
        assert dm.headers["content-type"] == "application/problem+json"
        assert dm.json()["type"].endswith("unavailable")
    assert w.reached("dm") == []
    # A request the policy does not know is untouched.
    hello = await w.get("/hello", "adult")
    assert (hello.status_code, hello.text) == (200, "hello")
    # Decided from the caches alone: an anonymous message to a child is refused and logged.
    anonymous = await w.post("/api/v1/messages", None, json={"to": "kid"})
    assert anonymous.status_code == 403
    refused_while_down = anonymous.json()["decision_id"]
    # Three children block and report the adult: signal events, a crossing, report rows.
    for child in CHILDREN:
        assert (await w.post("/api/blocks", child, json={"account": "adult"})).status_code == 200
        assert (await w.post("/api/reports", child, json={"account": "adult"})).status_code == 200
    await runtime.alerts.recorder.flush()
    assert runtime.decisions.health()["queued"] >= 1
    assert runtime.decisions.health()["last_error"] is not None
    assert runtime.alerts.health()["signals"]["crossings_pending"] >= 1

    private_postgres.start()

    # Service comes back without a restart of the middleware: the pool checks connections
    # before use, so the first request after the outage is already answered normally.
    again = await w.post("/api/v1/messages", "other-adult", json={"to": "kid"})
    assert again.status_code == 403
    assert (await w.post("/api/v1/messages", "parent", json={"to": "kid"})).status_code == 201

    engine = runtime.engine

    async def all_written() -> bool:
        return (
            refused_while_down in await decision_ids(engine)
            and ("adult", "blocked-by-minors") in await alert_keys(engine)
            and await report_count(engine) == len(CHILDREN)
        )

    await eventually(all_written, what="the rows queued during the outage are written")
    written = await decision_ids(engine)
    assert before < written
    keys = await alert_keys(engine)
    assert keys.count(("adult", "blocked-by-minors")) == 1
    assert keys.count(("adult", "reported-by-minors")) == 1
    await runtime.decisions.flush()  # the rows of the requests after the outage, too
    health = runtime.health()
    assert health["decision_log"]["dropped"] == 0 and health["decision_log"]["queued"] == 0
    assert health["alerts"]["signals"]["crossings_pending"] == 0
    assert health["reports"]["dropped"] == 0
    # The alert escalated: the adult is now restricted on this worker.
    assert runtime.restrictions.is_restricted("adult")
