"""The middleware is invisible to what it does not protect: lifespan, websockets, unknown routes."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from safe_accounts import PolicyError, SafeAccountsMiddleware, SchemaOutOfDate
from tests.asgi import Lifespan, websocket


def _app(events: list[str]) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app):  # type: ignore[no-untyped-def]
        events.append("app-startup")
        yield
        events.append("app-shutdown")

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text(text.upper())
        await websocket.close()

    return Starlette(routes=[WebSocketRoute("/ws", echo)], lifespan=lifespan)


async def test_lifespan_reaches_the_app_and_our_stores_open_first_and_close_last(
    database_url: str, policy_file: Path, wrapped  # type: ignore[no-untyped-def]
) -> None:
    events: list[str] = []
    middleware = SafeAccountsMiddleware(_app(events), policy=policy_file, database_url=database_url, signals=None)
    async with Lifespan(middleware):
        assert middleware.runtime is not None
        assert events == ["app-startup"]
        async with websocket(middleware, "/ws") as (to_app, from_app):
            assert (await from_app.get())["type"] == "websocket.accept"
            await to_app.put({"type": "websocket.receive", "text": "hello"})
            assert (await from_app.get())["text"] == "HELLO"
    assert events == ["app-startup", "app-shutdown"]
    assert middleware.runtime is None


async def test_an_out_of_date_schema_stops_start_up_naming_the_fix(tmp_path: Path, policy_file: Path) -> None:
    events: list[str] = []
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    middleware = SafeAccountsMiddleware(_app(events), policy=policy_file, database_url=url, signals=None)
    with pytest.raises((RuntimeError, SchemaOutOfDate), match="safe-accounts db upgrade"):
        async with Lifespan(middleware):
            pass
    assert events == []
    await middleware.close()


def test_a_bad_policy_stops_start_up_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\nname: x\nrules:\n  - id: r\n    action: direct_message\n    then: block\n    reason: x\n"
    )
    with pytest.raises(PolicyError) as info:
        SafeAccountsMiddleware(_app([]), policy=bad, signals=None)
    assert f"{bad}:6" in str(info.value)


async def test_an_unreachable_database_at_start_up_is_one_clear_error(policy_file: Path) -> None:
    from safe_accounts import StorageError

    middleware = SafeAccountsMiddleware(
        _app([]), policy=policy_file, database_url="postgresql://app:s3cret@127.0.0.1:1/app", signals=None
    )
    with pytest.raises(StorageError, match="reaching the database at postgresql") as info:
        await middleware.start()
    assert "s3cret" not in str(info.value)
    await middleware.close()


async def test_the_health_endpoint_answers_for_us_and_unknown_routes_reach_the_app(wrapped) -> None:  # type: ignore[no-untyped-def]
    for _ in range(2):  # the second time from the route memo
        health = await wrapped.get("/.well-known/safe-accounts/health", None)
        assert health.status_code == 200
        assert health.json()["status"] in {"ok", "starting"}
        unknown = await wrapped.get("/hello", "adult")
        assert unknown.status_code == 200
    assert wrapped.reached("unknown") == ["/hello", "/hello"]


async def test_without_a_health_path_the_app_answers_there(engine, database_url: str, policy_file: Path, clock) -> None:  # type: ignore[no-untyped-def]
    import httpx

    from .conftest import HostApp

    host = HostApp()
    middleware = SafeAccountsMiddleware(
        host.build(), policy=policy_file, database_url=database_url, clock=clock, signals=None, health_path=None
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://t") as client:
        response = await client.get("/.well-known/safe-accounts/health")
    await middleware.close()
    # The host app has no such route: its own 404, not our health document.
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/plain")
