"""Monitor mode changes nothing; a failing store never lets a protected action through."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import event

from safe_accounts import SafeAccountsMiddleware

from .conftest import POLICY, HostApp, Wrapped


def _with(policy: str, extra: str) -> str:
    return policy.replace("extends: baseline\n", "extends: baseline\n" + extra, 1)


async def _client(app: SafeAccountsMiddleware) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_monitor_mode_decides_and_logs_but_changes_nothing(
    wrapped: Wrapped, tmp_path: Path, database_url: str, clock
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "monitor.yaml"
    path.write_text(_with(POLICY, "mode: monitor\n"))
    host = HostApp()
    app = SafeAccountsMiddleware(host.build(), policy=path, database_url=database_url, clock=clock, signals=None)
    async with await _client(app) as client:
        dm = await client.post("/api/v1/messages", json={"to": "kid"}, headers={"x-account-id": "adult"})
        search = await client.get("/api/search", headers={"x-account-id": "adult"})
    assert dm.status_code == 201
    assert "safe-accounts-decision" not in dm.headers
    assert {i["id"] for i in search.json()["results"]} >= {"kid", "young"}
    runtime = app.runtime
    assert runtime is not None
    await runtime.decisions.flush()
    await app.close()
    rows = await wrapped.decisions()
    assert {(r["rule"], r["mode"], r["status"]) for r in rows} == {
        ("stranger-dm-to-minor", "monitor", None),
        ("minors-out-of-stranger-discovery", "monitor", None),
    }


async def test_a_rule_switched_to_monitor_by_id_in_the_app_policy(
    tmp_path: Path, wrapped: Wrapped, database_url: str, clock
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "override.yaml"
    path.write_text(POLICY + "rules:\n  - {id: stranger-dm-to-minor, mode: monitor}\n")
    app = SafeAccountsMiddleware(HostApp().build(), policy=path, database_url=database_url, clock=clock, signals=None)
    async with await _client(app) as client:
        dm = await client.post("/api/v1/messages", json={"to": "kid"}, headers={"x-account-id": "adult"})
        profile = await client.get("/api/accounts/young", headers={"x-account-id": "adult"})
    await app.close()
    assert dm.status_code == 201
    assert profile.status_code == 404  # other rules still enforced


def _broken_database(tmp_path: Path) -> str:
    # A port nothing listens on: every query fails at once.
    return "postgresql+asyncpg://nobody@127.0.0.1:1/none"


async def test_a_failing_database_fails_protected_actions_closed(wrapped: Wrapped) -> None:
    runtime = await wrapped.middleware.start()
    await wrapped.middleware.engine.dispose()
    # The band cache is warm for nobody: break the store under it.
    runtime.bands._cache._data.clear() if hasattr(runtime.bands._cache, "_data") else None  # noqa: SLF001

    class Broken:
        async def fetch(self, ids):  # type: ignore[no-untyped-def]
            raise ConnectionRefusedError("database down")

    runtime.bands.store = Broken()  # type: ignore[assignment]
    dm = await wrapped.post("/api/v1/messages", "adult", json={"to": "someone-new"})
    assert dm.status_code == 503
    assert dm.headers["content-type"] == "application/problem+json"
    assert wrapped.reached("dm") == []
    hello = await wrapped.get("/hello", "adult")
    assert hello.status_code == 200


async def test_a_fail_open_rule_lets_the_action_through_when_the_store_fails(
    tmp_path: Path, wrapped: Wrapped, database_url: str, clock
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "open.yaml"
    path.write_text(POLICY.replace("\ndefaults:\n", "\ndefaults:\n  on_failure: open\n", 1))
    host = HostApp()
    app = SafeAccountsMiddleware(host.build(), policy=path, database_url=database_url, clock=clock, signals=None)
    runtime = await app.start()

    class Broken:
        async def fetch(self, ids):  # type: ignore[no-untyped-def]
            raise ConnectionRefusedError("database down")

    runtime.bands.store = Broken()  # type: ignore[assignment]
    async with await _client(app) as client:
        dm = await client.post("/api/v1/messages", json={"to": "someone-new"}, headers={"x-account-id": "adult"})
    await app.close()
    assert dm.status_code == 201


async def test_requests_the_policy_does_not_know_touch_no_sql_and_are_not_buffered(wrapped: Wrapped) -> None:
    await wrapped.middleware.start()
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(wrapped.middleware.engine.sync_engine, "before_cursor_execute", count)
    try:
        response = await wrapped.get("/hello", "adult")
    finally:
        event.remove(wrapped.middleware.engine.sync_engine, "before_cursor_execute", count)
    assert response.text == "hello"
    assert statements == []


async def test_warm_enforced_requests_touch_no_sql(wrapped: Wrapped) -> None:
    await wrapped.post("/api/v1/messages", "adult", json={"to": "other-adult"})  # warms the band cache
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    # The relationship cache of the test policy is 0 s; bands stay cached.
    event.listen(wrapped.middleware.engine.sync_engine, "before_cursor_execute", count)
    try:
        await wrapped.post("/api/v1/messages", "adult", json={"to": "other-adult"})
    finally:
        event.remove(wrapped.middleware.engine.sync_engine, "before_cursor_execute", count)
    assert [s for s in statements if "INSERT" not in s.upper()] == []


async def test_the_app_exceptions_are_the_apps(database_url: str, policy_file: Path, clock, wrapped: Wrapped) -> None:  # type: ignore[no-untyped-def]
    from starlette.applications import Starlette
    from starlette.routing import Route

    async def boom(request):  # type: ignore[no-untyped-def]
        raise RuntimeError("the app's own bug")

    app = SafeAccountsMiddleware(
        Starlette(routes=[Route("/api/v1/messages", boom, methods=["POST"])]),
        policy=policy_file, database_url=database_url, clock=clock, signals=None,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with pytest.raises(RuntimeError, match="the app's own bug"):
            await client.post("/api/v1/messages", json={"to": "other-adult"}, headers={"x-account-id": "adult"})
    await app.close()


async def test_a_failure_of_ours_before_the_app_is_called_is_a_503(wrapped: Wrapped, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from safe_accounts.pipeline import enforcement

    async def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(enforcement, "decide", broken)
    response = await wrapped.post("/api/v1/messages", "adult", json={"to": "other-adult"})
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert wrapped.reached("dm") == []


async def test_a_failure_of_ours_after_the_app_answered_leaves_the_apps_answer(wrapped: Wrapped, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from safe_accounts.pipeline.enforcement import Enforcement

    async def broken(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug of ours, after the app answered")

    monkeypatch.setattr(Enforcement, "_events_after_success", broken)
    # httpx's ASGI transport fails on a second `http.response.start`: one answer, the app's.
    response = await wrapped.post("/api/friend-requests", "adult", json={"to": "other-adult"})
    assert response.status_code == 201
    assert len(wrapped.reached("friend-request")) == 1
