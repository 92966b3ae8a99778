"""A worker killed with SIGKILL in the middle of its batches: what does it leave behind?

What the design guarantees, stated precisely (docs/reliability.md):

- a refusal's decision-log row is written before the refusal is answered: a SIGKILL right
  after the last answer loses none of them. Only a refusal answered while its row could
  not be written (the database failed or overran the time budget) is queued instead, and
  the health report counts it (`decision_log.answered_unwritten`);
- every other row, signal event or report is queued in memory and written by a background
  task within ~0.1 s (decision log) / ~0.05 s (signals); the client's answer does not wait
  for it. So on SIGKILL, those acknowledged in that last window are lost: at-most-once.
  Nothing is written that was not decided, and nothing is written twice;
- once the health report shows nothing queued, a SIGKILL loses nothing;
- a crossing already counted in Redis still becomes an alert after the worker that
  counted it dies: the store keeps it pending until its alert is in SQL, and the next
  worker to start takes it (see the last test).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from safe_accounts.clock import FrozenClock
from safe_accounts.db import migrate
from safe_accounts.db.engine import make_engine
from tests.conftest import create_pg_database, drop_pg_database, pg_url
from tests.middleware.conftest import seed

from .postgres_server import PostgresServer
from .server_process import HEALTH, ServerProcess
from .support import alert_keys, decision_ids, eventually

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

CHILDREN = ("kid", "young", "teen", "kid-friend")


async def _prepare(url: str) -> None:
    await migrate.upgrade_url(url)
    engine = make_engine(url)
    await seed(engine, FrozenClock())
    await engine.dispose()


@pytest.fixture
def database() -> Iterator[str]:
    """A PostgreSQL database of this test's own on the shared server."""
    name = create_pg_database()
    url = pg_url(name)
    asyncio.run(_prepare(url))
    yield url
    drop_pg_database(name)


def _server(tmp_path: Path, database_url: str, redis_url: str, prefix: str, policy_file: Path) -> ServerProcess:
    env = {
        "SA_SERVED_DATABASE_URL": database_url,
        "SA_SERVED_POLICY": str(policy_file),
        "SA_SERVED_REDIS_URL": redis_url,
        "SA_SERVED_PREFIX": prefix,
    }
    return ServerProcess(env, tmp_path / "server.log")


@pytest.fixture
def serve(tmp_path: Path, redis_url: str, redis_prefix: str, policy_file: Path) -> Iterator[Any]:
    started: list[ServerProcess] = []

    def start(database_url: str) -> ServerProcess:
        server = _server(tmp_path, database_url, redis_url, redis_prefix, policy_file)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30, trust_env=False) as c:
        yield c


async def _refusals(client: httpx.AsyncClient, server: ServerProcess, count: int, *, at_once: int = 16) -> list[str]:
    """`count` stranger DMs to children, `at_once` at a time; the decision ids of the refusals.

    A 503 (the time budget spent waiting for a pooled connection) is the designed answer
    under a burst: it acknowledges nothing and leaves no row, so it is not counted."""
    gate = asyncio.Semaphore(at_once)

    async def one(i: int) -> str | None:
        child = CHILDREN[i % len(CHILDREN)]
        async with gate:
            response = await client.post(
                f"{server.url}/api/v1/messages", json={"to": child}, headers={"x-account-id": "adult"}
            )
        assert response.status_code in (403, 503), response.text
        return str(response.json()["decision_id"]) if response.status_code == 403 else None

    answers = await asyncio.gather(*(one(i) for i in range(count)))
    return [a for a in answers if a is not None]


async def _health(client: httpx.AsyncClient, server: ServerProcess) -> dict[str, Any]:
    return dict((await client.get(server.url + HEALTH)).json())


async def test_once_nothing_is_queued_a_kill_loses_nothing(
    database: str, serve: Any, client: httpx.AsyncClient
) -> None:
    server = serve(database)
    acknowledged = await _refusals(client, server, 40)
    assert acknowledged
    for child in CHILDREN:
        response = await client.post(
            f"{server.url}/api/blocks", json={"account": "adult"}, headers={"x-account-id": child}
        )
        assert response.status_code == 200

    async def drained() -> bool:
        health = await _health(client, server)
        signals = health["alerts"]["signals"]
        return health["decision_log"]["queued"] == 0 and signals["queued"] == 0 and signals["crossings_pending"] == 0

    await eventually(drained, what="the worker reports nothing queued")
    server.kill()

    engine = make_engine(database)
    try:
        assert set(acknowledged) <= await decision_ids(engine)
        assert await alert_keys(engine) == [("adult", "blocked-by-minors"), ("adult", "denied-dms-to-minors")]
    finally:
        await engine.dispose()


async def test_a_kill_straight_after_a_burst_of_refusals_loses_none_of_their_rows(
    database: str, serve: Any, client: httpx.AsyncClient
) -> None:
    server = serve(database)
    acknowledged = await _refusals(client, server, 300)
    assert acknowledged
    server.kill()  # straight after the last answer

    engine = make_engine(database)
    try:
        durable = await decision_ids(engine)
    finally:
        await engine.dispose()
    assert durable == set(acknowledged)  # each answered refusal once; nothing unanswered
    assert "answered before they were written" not in server.log.read_text()


async def test_a_kill_loses_at_most_what_was_queued_and_writes_nothing_twice(
    database: str, serve: Any, client: httpx.AsyncClient
) -> None:
    # Rows that are not refusals' (a monitored contact request to a child) stay on the
    # queued path: a kill may lose those the health report shows as queued, and no more.
    server = serve(database)
    sent = 0
    for child in CHILDREN * 10:
        response = await client.post(
            f"{server.url}/api/friend-requests", json={"to": child}, headers={"x-account-id": "adult"}
        )
        sent += response.status_code == 201
    health = await _health(client, server)
    server.kill()

    engine = make_engine(database)
    try:
        durable = await decision_ids(engine)
    finally:
        await engine.dispose()
    queued, written = health["decision_log"]["queued"], health["decision_log"]["written"]
    assert sent and len(durable) <= sent  # nothing written that was not decided
    assert len(durable) >= written
    assert sent - len(durable) <= queued, (sent, len(durable), queued)


@pytest.fixture
def served_on_private_postgres(
    private_postgres: PostgresServer, tmp_path: Path, redis_url: str, redis_prefix: str, policy_file: Path
) -> Iterator[Any]:
    asyncio.run(_prepare(private_postgres.url()))
    started: list[ServerProcess] = []

    def start() -> ServerProcess:
        server = _server(tmp_path, private_postgres.url(), redis_url, redis_prefix, policy_file)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.mark.slow  # ~10 s: two worker starts and a PostgreSQL restart
async def test_a_crossing_counted_before_a_kill_still_becomes_an_alert(
    served_on_private_postgres: Any, private_postgres: PostgresServer, client: httpx.AsyncClient
) -> None:
    server = served_on_private_postgres()
    # Warm the bands so that blocks are decided from the cache while SQL is down.
    for child in CHILDREN:
        warmed = await client.get(f"{server.url}/api/accounts/{child}", headers={"x-account-id": child})
        assert warmed.status_code == 200
    assert (await client.get(f"{server.url}/api/accounts/adult", headers={"x-account-id": "adult"})).status_code == 200
    private_postgres.stop()
    for child in CHILDREN[:3]:
        response = await client.post(
            f"{server.url}/api/blocks", json={"account": "adult"}, headers={"x-account-id": child}
        )
        assert response.status_code == 200  # acknowledged to the child

    async def counted_not_stored() -> bool:
        signals = (await _health(client, server))["alerts"]["signals"]
        return signals["queued"] == 0 and signals["crossings_pending"] >= 1

    await eventually(counted_not_stored, what="the crossing is counted in Redis, its alert not yet in SQL")
    server.kill()
    private_postgres.start()

    server = served_on_private_postgres()
    # The fourth child blocks the adult too: a later event of the same window.
    response = await client.post(
        f"{server.url}/api/blocks", json={"account": "adult"}, headers={"x-account-id": CHILDREN[3]}
    )
    assert response.status_code == 200
    engine = make_engine(private_postgres.url())
    try:
        async def alerted() -> bool:
            return ("adult", "blocked-by-minors") in await alert_keys(engine)

        await eventually(alerted, what="the alert for the crossing counted before the kill", within=8)
    finally:
        await engine.dispose()
