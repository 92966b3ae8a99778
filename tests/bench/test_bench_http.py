"""The HTTP benchmark's pieces: the floor middleware hands the app the body it read, and
the scripts given to wrk say what the scenarios say."""

from __future__ import annotations

import httpx
import orjson

from bench import bench_http


async def test_the_floor_middleware_replays_the_body_to_the_app() -> None:
    transport = httpx.ASGITransport(app=bench_http.floor_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        response = await client.post("/api/messages", json={"to": "someone", "text": "hi"})
    assert response.status_code == 201
    assert response.json() == {"sent": True, "to": "someone"}


def test_a_dm_scenario_script_sets_method_headers_and_body() -> None:
    scenario = bench_http.dm("a DM", "child", actor="parent")
    script = scenario.lua()
    assert 'wrk.method = "POST"' in script
    assert 'wrk.headers["X-Account-Id"] = "parent"' in script
    assert 'wrk.headers["Content-Type"] = "application/json"' in script
    body = script.split("[[", 1)[1].split("]]", 1)[0]
    assert orjson.loads(body) == {"to": "child", "text": "hello there"}


def test_a_get_scenario_script_has_no_body() -> None:
    script = bench_http.Scenario("search", "GET", "/api/search", "adult").lua()
    assert "wrk.body" not in script
    assert "Content-Type" not in script


def test_without_wrk_every_scenario_is_a_row_marked_not_measured() -> None:
    rows = bench_http.not_measured()
    assert [r.what for r in rows] == [s.what for s, _, _ in bench_http.SCENARIOS]
    assert all(r.figure.startswith("not measured") and r.met is None for r in rows)
