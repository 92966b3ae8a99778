"""The demo app as a host: its own tables seeded with the personas, served in-process.

Every test runs on SQLite and on PostgreSQL (the `database_url` fixture). The demo app's
tables are dropped afterwards, and the rows the middleware wrote in its own emptied, because
the PostgreSQL database is shared by the run: a later test reading the decision log must
not find the demo's rows in it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from demo_support import BASE, SECRET, Login
from starlette.applications import Starlette

from demo_app.app import Settings, create_app
from demo_app.database import make_engine
from demo_app.seed import seed
from demo_app.tables import metadata
from safe_accounts.clock import FrozenClock
from safe_accounts.db.schema import metadata as ours


@pytest.fixture
async def demo_database(database_url: str) -> AsyncIterator[str]:
    yield database_url
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
            for table in reversed(ours.sorted_tables):
                await conn.execute(table.delete())
    finally:
        await engine.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
async def app(demo_database: str, clock: FrozenClock) -> AsyncIterator[Starlette]:
    """The bare app, started (lifespan) and seeded."""
    app = create_app(Settings(demo_database, SECRET, clock=clock))
    async with app.router.lifespan_context(app):
        await seed(app.state.runtime.engine, today=clock.today(), now=clock.now())
        yield app


@pytest.fixture
async def clients(app: Starlette) -> AsyncIterator[list[httpx.AsyncClient]]:
    made: list[httpx.AsyncClient] = []
    yield made
    for client in made:
        await client.aclose()


def new_client(app: Starlette, made: list[httpx.AsyncClient]) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
    made.append(client)
    return client


@pytest.fixture
def anonymous(app: Starlette, clients: list[httpx.AsyncClient]) -> httpx.AsyncClient:
    return new_client(app, clients)


@pytest.fixture
def api(app: Starlette, clients: list[httpx.AsyncClient]) -> Login:
    """`await api("mia")`: a JSON API client with Mia's bearer token."""

    async def login(handle: str) -> httpx.AsyncClient:
        client = new_client(app, clients)
        response = await client.post("/api/login", json={"handle": handle})
        assert response.status_code == 200, response.text
        client.headers["authorization"] = f"Bearer {response.json()['token']}"
        return client

    return login


@pytest.fixture
def browser(app: Starlette, clients: list[httpx.AsyncClient]) -> Login:
    """`await browser("mia")`: a client logged in through the log-in page (session cookie)."""

    async def login(handle: str) -> httpx.AsyncClient:
        client = new_client(app, clients)
        response = await client.post("/login", data={"handle": handle})
        assert response.status_code == 303, response.text
        return client

    return login
