"""The shipped migrations: one head, a full round trip, our own version table."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from safe_accounts.db import migrate
from safe_accounts.db.engine import make_engine
from safe_accounts.db.metadata import VERSION_TABLE
from safe_accounts.errors import SchemaOutOfDate


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    return request.getfixturevalue("fresh_postgres_url")


async def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


def test_there_is_exactly_one_head() -> None:
    assert migrate.head_revision()


async def test_upgrade_downgrade_upgrade_round_trip(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        await migrate.upgrade(engine)
        assert await migrate.current(engine) == migrate.head_revision()
        await migrate.downgrade(engine, "base")
        assert await migrate.current(engine) is None
        await migrate.upgrade(engine)
        await migrate.check_schema(engine)
    finally:
        await engine.dispose()
    tables = await _tables(empty_url)
    assert VERSION_TABLE in tables
    assert "alembic_version" not in tables, "the host app's own version table is not ours to create"
    assert all(t.startswith("safe_accounts_") for t in tables)


async def test_out_of_date_schema_names_the_command_that_fixes_it(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        with pytest.raises(SchemaOutOfDate, match="safe-accounts db upgrade"):
            await migrate.check_schema(engine)
    finally:
        await engine.dispose()


async def test_host_apps_alembic_history_is_untouched(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32))")
            await conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('host_app_rev_9')")
        await migrate.upgrade(engine)
        await migrate.downgrade(engine, "base")
        async with engine.connect() as conn:
            rows = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).all()
        assert rows == [("host_app_rev_9",)]
    finally:
        await engine.dispose()


async def test_two_workers_upgrading_at_once_do_not_race(empty_url: str) -> None:
    import asyncio

    engines = [make_engine(empty_url), make_engine(empty_url)]
    try:
        await asyncio.gather(*(migrate.upgrade(e) for e in engines))
        assert await migrate.current(engines[0]) == migrate.head_revision()
    finally:
        for e in engines:
            await e.dispose()


@pytest.mark.postgres
def test_two_processes_upgrading_postgres_at_once_do_not_race(fresh_postgres_url: str) -> None:
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "safe_accounts.cli", "db", "upgrade", "--database-url", fresh_postgres_url]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    results = [(*p.communicate(timeout=60), p.returncode) for p in procs]
    assert [rc for _, _, rc in results] == [0, 0, 0], results


def _alert(alert_id: str, subject: str, signal: str, status: str) -> dict[str, object]:
    return {
        "id": alert_id, "subject": subject, "signal": signal, "window_key": "604800:2976", "counts": {},
        "evidence": [], "reason": "r", "status": status, "created_at": 1.0, "policy_version": "",
    }


async def test_an_upgrade_over_two_live_alerts_of_one_account_stops_and_names_them(empty_url: str) -> None:
    # Written before the store held one live alert per account, by two racing workers.
    from sqlalchemy import update

    from safe_accounts.alerts.tables import alerts
    from safe_accounts.errors import SafeAccountsError

    engine = make_engine(empty_url)
    try:
        await migrate.upgrade(engine, "0005_cases")
        async with engine.begin() as conn:
            await conn.execute(alerts.insert(), [
                _alert("a1", "adult-1", "rejected-by-minors", "open"),
                _alert("a2", "adult-1", "blocked-by-minors", "acknowledged"),
                _alert("a3", "adult-1", "reported-by-minors", "resolved"),
                _alert("b1", "adult-2", "rejected-by-minors", "open"),
            ])
        with pytest.raises(SafeAccountsError, match=r"1 account\(s\) .* \(adult-1: a1, a2\)\. Resolve all but one"):
            await migrate.upgrade(engine)
        assert await migrate.current(engine) == "0005_cases"
        async with engine.begin() as conn:
            await conn.execute(update(alerts).where(alerts.c.id == "a2").values(status="resolved"))
        await migrate.upgrade(engine)
        await migrate.check_schema(engine)
    finally:
        await engine.dispose()


async def _columns(engine, table: str) -> set[str]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return {c["name"] for c in await conn.run_sync(lambda c: inspect(c).get_columns(table))}


async def test_the_sampling_rate_column_comes_and_goes_keeping_the_rows(empty_url: str) -> None:
    # 0008: a sampled allow rule's rows keep their rate; rows written before stand for themselves.
    from sqlalchemy import text

    row = (
        "INSERT INTO safe_accounts_decisions (id, at, action, rule, policy_version, mode, outcome, "
        "actor_band, route, affected) VALUES ('d1', 1.0, 'profile_view', 'r', 'v', 'enforce', 'allow', "
        "'adult', 'profile', 1)"
    )
    engine = make_engine(empty_url)
    try:
        await migrate.upgrade(engine, "0007_decision_targets")
        async with engine.begin() as conn:
            await conn.execute(text(row))
        await migrate.upgrade(engine)
        for table in ("safe_accounts_decisions", "safe_accounts_held_decisions"):
            assert "sample_rate" in await _columns(engine, table)
        async with engine.begin() as conn:
            assert (await conn.execute(text("SELECT sample_rate FROM safe_accounts_decisions"))).all() == [(None,)]
            await conn.execute(text("UPDATE safe_accounts_decisions SET sample_rate = 0.1"))
        await migrate.downgrade(engine, "0007_decision_targets")
        for table in ("safe_accounts_decisions", "safe_accounts_held_decisions"):
            assert "sample_rate" not in await _columns(engine, table)
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT id, targets FROM safe_accounts_decisions"))).all() == [
                ("d1", None)
            ]
        await migrate.upgrade(engine)
        await migrate.check_schema(engine)
    finally:
        await engine.dispose()
