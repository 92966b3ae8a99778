"""The realistic benchmark runs end to end in a tiny configuration, on SQLite and on
PostgreSQL, checking before it times anything that the app does its SQL and that the
middleware redacts and filters as the scenario says. Nothing here asserts a time."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from pathlib import Path

import httpx
import orjson
import pytest

from bench import bench_realistic
from bench.bench_realistic import Config

TINY = Config(page=8, rounds=1, per_round=2, warm=1, http=False, time_budget_ms=2000)


def rows_of(kind: str, tmp_path: Path, config: Config = TINY) -> list[bench_realistic.Row]:
    return asyncio.run(bench_realistic.measure_in_process(kind, config, tmp_path))


def test_a_tiny_run_on_sqlite_measures_every_scenario_against_its_target(tmp_path: Path) -> None:
    rows = rows_of("sqlite", tmp_path)
    assert len(rows) == 5
    assert all(r.section == bench_realistic.SECTION and r.what.startswith("SQLite: ") for r in rows)
    assert [r.target for r in rows] == ["<= 1.05"] * 4 + ["<= 1.15"]
    assert all(isinstance(r.met, bool) for r in rows)
    assert all("middleware CPU" in r.figure for r in rows)
    assert "per listed account" in rows[-1].figure
    assert "search page of 8, 2 minors filtered" in rows[-1].what


@pytest.mark.postgres
def test_a_tiny_run_on_postgresql_uses_a_database_of_its_own_and_drops_it(tmp_path: Path) -> None:
    name = f"sa_test_bench_{uuid.uuid4().hex[:10]}"
    try:
        rows = rows_of("postgresql", tmp_path, dataclasses.replace(TINY, pg_database=name))
    except OSError as exc:
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    assert len(rows) == 5
    assert all(r.what.startswith("PostgreSQL: ") for r in rows)
    assert not asyncio.run(database_exists(name))


async def database_exists(name: str) -> bool:
    import asyncpg

    admin = await asyncpg.connect(
        host=bench_realistic.PG_HOST, port=bench_realistic.PG_PORT, user="postgres", database="postgres"
    )
    try:
        return bool(await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await admin.close()


async def test_a_profile_the_middleware_does_not_redact_fails_the_check(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    people = await bench_realistic.seed(url, 8)
    bare = bench_realistic.host_app(url, 8)
    try:
        redacted = bench_realistic.scenarios(people, 8)[2]
        assert redacted.actor == people.stranger
        # The bare app in the wrapped app's place: nothing is redacted, and the check says so.
        with pytest.raises(bench_realistic.Unexpected, match="shown"):
            await bench_realistic.check(bare, bare, bare.state.engine, people, redacted, 8)
    finally:
        await bare.state.engine.dispose()


async def test_the_wrapped_server_app_filters_the_page_and_writes_the_dm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    people = await bench_realistic.seed(url, 8)
    policy = tmp_path / "policy.yaml"
    policy.write_text(bench_realistic.policy(2000))
    monkeypatch.setenv(bench_realistic.ENV_DATABASE, url)
    monkeypatch.setenv(bench_realistic.ENV_POLICY, str(policy))
    monkeypatch.setenv(bench_realistic.ENV_PAGE, "8")
    app = bench_realistic.wrapped_app()
    try:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            stranger = {"x-account-id": str(people.stranger)}
            page = await client.get(f"/api/search?town={people.town}", headers=stranger)
            dm = await client.post("/api/messages", headers=stranger,
                                   json={"to": people.other_adult, "text": "hi"})
            to_child = await client.post("/api/messages", headers=stranger,
                                         json={"to": people.child, "text": "hi"})
        assert page.status_code == 200
        assert len(page.json()["results"]) == 6
        assert dm.status_code == 201
        assert to_child.status_code == 403
    finally:
        await app.close()
        await app.app.state.engine.dispose()


def test_a_scenario_script_for_wrk_carries_its_actor_body_and_query() -> None:
    people = bench_realistic.People(1, 2, 3, 4, town="town-1")
    dm, _, _, _, search = bench_realistic.scenarios(people, 8)
    script = dm.lua()
    assert 'wrk.headers["X-Account-Id"] = "1"' in script
    assert orjson.loads(script.split("[[", 1)[1].split("]]", 1)[0]) == {"to": 2, "text": "hello there"}
    assert search.url("http://x") == "http://x/api/search?town=town-1"


def test_without_wrk_every_http_scenario_is_a_row_marked_not_measured() -> None:
    people = bench_realistic.People(1, 2, 3, 4, town="town-1")
    rows = bench_realistic.http_not_measured(people, 8)
    assert len(rows) == 5
    assert all(r.section == bench_realistic.HTTP_SECTION and r.met is None for r in rows)
