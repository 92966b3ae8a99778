"""A route with a fixed outcome: an endpoint that only ever refuses, whoever sends it and
whoever it names. Recorded as a decision (rule `route:NAME`), never as a grooming signal,
and not counted as a stranger contact blocked."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock
from safe_accounts.errors import PolicyError
from safe_accounts.moderation.transparency import Period, transparency_report
from safe_accounts.pipeline.compiled import CompiledPolicy
from safe_accounts.policy import load_policy
from safe_accounts.policy_tools.testing import run_tests
from tests.websocket.inprocess import connect

from .conftest import POLICY, HostApp, Wrapped, drop_host_tables, seed

FIXED = """\
version: 1
name: with-fixed-outcomes
extends: base.yaml
{mode}
routes:
  - name: group-create
    outcome: deny
    reason: Group chats are started from the new app only. Please update it.
  - name: profile
    outcome: hide
tests:
  - name: even a parent cannot start a group chat here
    accounts: {{parent: adult, kid: "13_15"}}
    connections: [[parent, kid]]
    actor: parent
    request: POST /api/v1/conversations
    json: {{participants: [kid]}}
    expect: deny
    rule: route:group-create
"""
REASON = "Group chats are started from the new app only. Please update it."


def fixed_policy(tmp_path: Path, mode: str = "") -> Path:
    (tmp_path / "base.yaml").write_text(POLICY)
    path = tmp_path / "fixed.yaml"
    path.write_text(FIXED.format(mode=mode))
    return path


@pytest.fixture
async def fixed(engine: AsyncEngine, database_url: str, tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Wrapped]:
    await seed(engine, clock)
    host = HostApp()
    middleware = SafeAccountsMiddleware(
        host.build(), policy=fixed_policy(tmp_path), database_url=database_url, clock=clock
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://testserver") as client:
        yield Wrapped(host, middleware, client)
    await middleware.close()
    await drop_host_tables(engine)


async def test_a_fixed_deny_refuses_everyone_before_reading_anything(fixed: Wrapped) -> None:
    for actor, body in [("parent", b'{"participants": ["kid"]}'), ("adult", b"not json at all"), (None, b"")]:
        answer = await fixed.post(
            "/api/v1/conversations", actor, content=body, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 403, answer.text
        problem = answer.json()
        assert (problem["rule"], problem["detail"]) == ("route:group-create", REASON)
        assert answer.headers["safe-accounts-decision"] == problem["decision_id"]
    assert fixed.reached("dm") == []


async def test_a_fixed_refusal_is_one_decision_row_with_the_actor_and_no_target(fixed: Wrapped) -> None:
    answer = await fixed.post("/api/v1/conversations", "parent", json={"participants": ["kid", "young"]})
    [row] = await fixed.decisions()
    assert row["id"] == answer.json()["decision_id"]
    assert (row["rule"], row["action"], row["route"]) == ("route:group-create", "direct_message", "group-create")
    assert (row["mode"], row["outcome"], row["status"]) == ("enforce", "deny", 403)
    assert (row["actor_id"], row["actor_band"], row["target_id"]) == ("parent", "adult", None)


async def test_a_fixed_refusal_is_no_grooming_signal_and_no_blocked_contact(fixed: Wrapped, clock: FrozenClock) -> None:
    assert (await fixed.post("/api/v1/conversations", "adult", json={"participants": ["kid"]})).status_code == 403
    await fixed.middleware.drain()
    runtime = fixed.middleware.runtime
    assert runtime is not None
    assert runtime.health()["alerts"]["signals"]["recorded"] == 0
    # The same stranger through a route whose rules refuse: a signal, and a blocked contact.
    assert (await fixed.post("/api/v1/messages", "adult", json={"to": "kid"})).status_code == 403
    await fixed.middleware.drain()
    assert runtime.health()["alerts"]["signals"]["recorded"] == 1
    day = dt.datetime.fromtimestamp(clock.now(), dt.UTC).date()
    report = await transparency_report(fixed.middleware.engine, Period(day, day), clock=clock)
    assert report.contacts_blocked_total == 1
    assert dict(report.contacts_blocked) == {("direct_message", "13_15"): 1}


async def test_a_fixed_hide_answers_the_apps_own_not_found(fixed: Wrapped) -> None:
    hidden = await fixed.get("/api/accounts/adult", "parent")
    absent = await fixed.get("/no/such/page", "parent")
    assert (hidden.status_code, hidden.content, hidden.headers["content-type"]) == (
        absent.status_code, absent.content, absent.headers["content-type"]
    )
    assert "safe-accounts-decision" not in hidden.headers
    assert fixed.reached("profile") == []
    [row] = await fixed.decisions()
    assert (row["rule"], row["outcome"], row["status"]) == ("route:profile", "hide", 404)


async def test_in_monitor_mode_a_fixed_outcome_is_recorded_and_the_app_answers(
    engine: AsyncEngine, database_url: str, tmp_path: Path, clock: FrozenClock
) -> None:
    await seed(engine, clock)
    host = HostApp()
    middleware = SafeAccountsMiddleware(
        host.build(),
        policy=fixed_policy(tmp_path, "mode: monitor"),
        database_url=database_url,
        clock=clock,
        signals=None,
    )
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://t") as client:
            wrapped = Wrapped(host, middleware, client)
            answer = await wrapped.post("/api/v1/conversations", "parent", json={"participants": ["kid"]})
            assert answer.status_code == 201 and len(wrapped.reached("dm")) == 1
            [row] = await wrapped.decisions()
            assert (row["rule"], row["mode"], row["status"]) == ("route:group-create", "monitor", None)
    finally:
        await middleware.close()
        await drop_host_tables(engine)


async def test_the_policys_own_tests_know_the_fixed_rule(tmp_path: Path) -> None:
    loaded = load_policy(fixed_policy(tmp_path))
    results = await run_tests(CompiledPolicy(loaded.policy, loaded.version, identity=False))
    [mine] = [r for r in results if r.name == "even a parent cannot start a group chat here"]
    assert (mine.passed, mine.rule, mine.got) == (True, "route:group-create", "deny (enforce)")


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        ("{name: x, method: GET, path: /x, action: discovery, reason: gone}", "`reason` goes with a fixed `outcome`"),
        ("{method: GET, path: /x, action: discovery, outcome: deny}", "needs a `name`"),
        ("{name: x, method: GET, path: /x, action: discovery, outcome: allow}", "outcome"),
    ],
)
def test_a_fixed_outcome_written_wrongly_is_a_problem_at_its_line(tmp_path: Path, route: str, reason: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(f"version: 1\nname: p\nroutes:\n  - {route}\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    [problem] = caught.value.problems
    assert (problem.file, problem.line) == (str(path), 4) and reason in problem.reason


def test_a_protected_route_with_a_fixed_outcome_needs_no_targets(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 1\nname: p\nroutes:\n"
        "  - {name: old-dm, method: POST, path: /v0/dm, action: direct_message, outcome: deny}\n"
    )
    assert load_policy(path).policy.routes[0].outcome == "deny"


async def test_a_socket_route_with_a_fixed_outcome_never_opens(
    database_url: str, tmp_path: Path, engine: AsyncEngine
) -> None:
    opened: list[str] = []

    async def legacy(websocket: WebSocket) -> None:
        opened.append("legacy")
        await websocket.accept()

    path = tmp_path / "ws.yaml"
    path.write_text(
        "version: 1\nname: ws\nidentity: [{source: header, header: x-account-id, trusted_proxies: [127.0.0.1/32]}]\n"
        "routes:\n  - {name: legacy-chat, method: WEBSOCKET, path: /ws/legacy, action: direct_message, outcome: deny}\n"
    )
    middleware = SafeAccountsMiddleware(
        Starlette(routes=[WebSocketRoute("/ws/legacy", legacy)]), policy=path, database_url=database_url, signals=None
    )
    try:
        async with connect(middleware, "/ws/legacy", [(b"x-account-id", b"parent")]) as ws:
            closed = await ws.next()
        assert closed["type"] == "websocket.close" and closed["code"] == 1008
        assert opened == []
        await middleware.drain()
    finally:
        await middleware.close()
