"""Real services for the suite: PostgreSQL and Redis over real connections, never mocks.

Without `CI=true` an unreachable service skips the tests that need it, with the reason in
the summary; with `CI=true` it fails them. Each run works in its own PostgreSQL database
and its own Redis key prefix, so runs on one machine do not see each other.

Under `CI=true` no test is skipped: a skip, whatever its cause (a missing program or
package too), is reported as a failure with its reason, since CI installs everything.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.db import migrate
from safe_accounts.db.engine import make_engine
from safe_accounts.db.schema import metadata

CI = os.environ.get("CI") == "true"
PG_HOST = os.environ.get("SAFE_ACCOUNTS_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("SAFE_ACCOUNTS_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("SAFE_ACCOUNTS_TEST_PG_USER", "postgres")
REDIS_URL = os.environ.get("SAFE_ACCOUNTS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unavailable(service: str, reason: object) -> None:
    """Skip (locally) or fail (under CI=true): a missing service is never silently fine in CI."""
    message = f"{service} unreachable: {reason}"
    if CI:
        pytest.fail(f"{message} (CI=true: services are required)", pytrace=False)
    pytest.skip(message)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if CI and report.skipped and not hasattr(report, "wasxfail"):
        _skip_fails(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    if CI and report.skipped:  # a whole module skipped
        _skip_fails(report)
    return report


def _skip_fails(report: pytest.TestReport | pytest.CollectReport) -> None:
    where, reason = "", str(report.longrepr)
    if isinstance(report.longrepr, tuple):  # (file, line, "Skipped: reason")
        path, line, reason = report.longrepr
        where = f"{path}:{line}: "
    report.outcome = "failed"
    report.longrepr = f"{where}{reason} (CI=true: no test may be skipped)"


def pg_url(database: str) -> str:
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


async def _pg_admin(sql: str) -> None:
    import asyncpg

    # A server that is down refuses at once; a loaded machine may take seconds to accept.
    conn = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres", timeout=30
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_pg_database() -> str:
    name = f"sa_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        unavailable("PostgreSQL", exc)
    return name


def drop_pg_database(name: str) -> None:
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A migrated PostgreSQL database for this run, dropped at the end."""
    name = create_pg_database()

    async def prepare() -> None:
        engine = make_engine(pg_url(name))
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(prepare())
    yield pg_url(name)
    drop_pg_database(name)


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """An empty PostgreSQL database of its own, for tests of migrations themselves."""
    name = create_pg_database()
    yield pg_url(name)
    drop_pg_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each SQL test runs on the embedded SQLite and on a real PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'safe_accounts.db'}"
        asyncio.run(migrate.upgrade_url(url))
        return url
    return request.getfixturevalue("postgres_database")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated engine; our tables are emptied afterwards (the PostgreSQL one is shared)."""
    engine = make_engine(database_url)
    yield engine
    async with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())
    await engine.dispose()


@pytest.fixture(scope="session")
def redis_available() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable("Redis", exc)
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_url(redis_available: str) -> str:
    return redis_available


@pytest.fixture
def redis_prefix(redis_available: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    import redis

    prefix = f"satest:{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = redis.Redis.from_url(redis_available)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@dataclass
class Ran:
    """What one `safe-accounts` command did: exit code and both streams."""

    code: int
    out: str
    err: str


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    """Run `safe-accounts ARGS...` in this process, through the real entry point."""
    from safe_accounts.cli import main

    monkeypatch.delenv("SAFE_ACCOUNTS_DATABASE_URL", raising=False)
    monkeypatch.delenv("SAFE_ACCOUNTS_REDIS_URL", raising=False)
    monkeypatch.delenv("SAFE_ACCOUNTS_REDIS_PREFIX", raising=False)

    def run(*args: str) -> Ran:
        monkeypatch.setattr(sys, "argv", ["safe-accounts", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run
