"""Monitor mode never changes an answer, not even when a store fails (issue 13, class 6).

A lookup that fails or overruns the time budget refuses a request (503) only when an
enforced, fail-closed rule could have applied to it. A rule in `monitor` decides and logs:
when it is the only rule that needed the lookup, the request goes on as if no rule
applied, and the failure is in the log.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.alerts.restrictions import Restrictions
from safe_accounts.clock import FrozenClock
from safe_accounts.pipeline.enforcement import LOOKUP_FAILED

from .conftest import PRODUCTION_POLICY, HostApp, Wrapped, drop_host_tables, seed

HERE = "tests.middleware.test_monitor_never_changes"

# The host's relationship lookups, as a store that never answers (each call is cut off by
# the policy's time budget), or as SQL against a table the host no longer has.
NEVER_ANSWERS = f"""relationships:
  connected: {{callable: "{HERE}:never_answers"}}
  mutual_count: {{callable: "{HERE}:never_answers"}}
  cache_seconds: 0
"""
BROKEN_SQL = """relationships:
  connected: {sql: "SELECT b FROM host_friendships_gone WHERE a = :actor AND b IN :targets"}
  mutual_count: {sql: "SELECT COUNT(*) FROM host_friendships_gone WHERE a = :actor AND b = :target"}
  cache_seconds: 0
"""


async def never_answers(**params: object) -> list[str]:
    await asyncio.Event().wait()  # until the time budget cancels it
    return []


def policy(tmp_path: Path, relationships: str, *, mode: str = "enforce") -> Path:
    # The production budget: a lookup here hangs until the budget cancels it.
    text = re.sub(r"relationships:\n(?:  .*\n)+", relationships, PRODUCTION_POLICY, count=1)
    text = text.replace("extends: baseline\n", f"extends: baseline\nmode: {mode}\n", 1)
    assert relationships in text
    path = tmp_path / f"{mode}.yaml"
    path.write_text(text)
    return path


@pytest.fixture
async def host(engine: AsyncEngine, clock: FrozenClock) -> AsyncIterator[HostApp]:
    await seed(engine, clock)
    yield HostApp()
    await drop_host_tables(engine)


async def wrapped(host: HostApp, path: Path, database_url: str, clock: FrozenClock) -> Wrapped:
    middleware = SafeAccountsMiddleware(host.build(), policy=path, database_url=database_url, clock=clock, signals=None)
    await middleware.start()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://testserver")
    return Wrapped(host, middleware, client)


async def closed(w: Wrapped) -> None:
    await w.client.aclose()
    await w.middleware.close()


async def test_a_contact_request_only_a_monitor_rule_watches_goes_through_when_its_lookup_times_out(
    host: HostApp, tmp_path: Path, database_url: str, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    # The baseline watches strangers' requests to children in monitor mode; the enforced
    # contact rule (restricted accounts) does not apply to an account that is not restricted.
    w = await wrapped(host, policy(tmp_path, NEVER_ANSWERS), database_url, clock)
    try:
        response = await w.post("/api/friend-requests", "adult", json={"to": "kid"})
    finally:
        await closed(w)
    assert response.status_code == 201
    assert w.reached("friend-request") == [{"to": "kid"}]
    assert any(r.msg == LOOKUP_FAILED and r.levelno == logging.WARNING for r in caplog.records)


async def test_the_same_timeout_still_refuses_a_dm_an_enforced_rule_protects(
    host: HostApp, tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    w = await wrapped(host, policy(tmp_path, NEVER_ANSWERS), database_url, clock)
    try:
        response = await w.post("/api/v1/messages", "adult", json={"to": "kid"})
    finally:
        await closed(w)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert w.reached("dm") == []


async def test_a_restricted_accounts_contact_request_is_still_refused_while_the_lookup_hangs(
    host: HostApp, tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    # A restricted account asking a child: the enforced rule applies on bands and
    # restriction alone, and the monitor rule's failed lookup does not weaken it.
    w = await wrapped(host, policy(tmp_path, NEVER_ANSWERS), database_url, clock)
    restrictions = Restrictions(w.middleware.engine, clock=clock, refresh_interval=3600)
    await restrictions.start()
    try:
        await restrictions.restrict("adult", reason="test", by="test")
        assert w.middleware.runtime is not None
        w.middleware.runtime.restrictions = restrictions
        refused = await w.post("/api/friend-requests", "adult", json={"to": "kid"})
        other = await w.post("/api/friend-requests", "other-adult", json={"to": "kid"})
    finally:
        await restrictions.close()
        await closed(w)
    assert refused.status_code == 403  # decided on bands and restriction, no lookup needed
    assert other.status_code == 201


async def test_a_policy_in_monitor_mode_answers_as_the_app_does_when_the_host_tables_fail(
    host: HostApp, tmp_path: Path, database_url: str, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    w = await wrapped(host, policy(tmp_path, BROKEN_SQL, mode="monitor"), database_url, clock)
    try:
        dm = await w.post("/api/v1/messages", "adult", json={"to": "kid"})
        request = await w.post("/api/friend-requests", "adult", json={"to": "young"})
        profile = await w.get("/api/accounts/young", "adult")
        search = await w.get("/api/search", "adult")
        rows = await w.decisions()
    finally:
        await closed(w)
    assert (dm.status_code, request.status_code, profile.status_code, search.status_code) == (201, 201, 200, 200)
    assert profile.json()["location"] == "Leeds"  # not redacted, not hidden
    assert {"kid", "young"} <= {r["id"] for r in search.json()["results"]}
    assert not any(k.startswith("safe-accounts") for r in (dm, request, profile, search) for k in r.headers)
    assert len(w.reached("dm")) == 1 and len(w.reached("friend-request")) == 1
    # Nothing was decided (the facts were missing), so no rule is on record; the log has the failures.
    assert rows == []
    assert sum(r.msg == LOOKUP_FAILED for r in caplog.records) >= 3


async def test_the_same_broken_tables_under_enforcement_refuse(
    host: HostApp, tmp_path: Path, database_url: str, clock: FrozenClock
) -> None:
    w = await wrapped(host, policy(tmp_path, BROKEN_SQL), database_url, clock)
    try:
        dm = await w.post("/api/v1/messages", "adult", json={"to": "kid"})
        profile = await w.get("/api/accounts/young", "adult")
    finally:
        await closed(w)
    assert (dm.status_code, profile.status_code) == (503, 503)
    assert w.reached("dm") == [] and w.reached("profile") == []
