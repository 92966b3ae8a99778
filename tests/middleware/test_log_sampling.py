"""An `allow` rule that samples its log (`log: {sample: R}`), through the middleware on real
SQL: the share R of the decisions that change nothing is written, each row with its rate;
refusals, redactions, filtered pages and a restricted actor's decisions are all written.

Decision ids are counted out in these tests instead of drawn at random, so which decisions
are kept is the same on every run; the rate holding within bounds is then a fact about the
hash, not luck."""

from __future__ import annotations

import itertools
import math
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock
from safe_accounts.decisions.sampling import share
from safe_accounts.decisions.table import decision_log
from safe_accounts.pipeline import records
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts

from .conftest import POLICY, HostApp, drop_host_tables, seed

SAMPLED = """\
version: 1
name: sampled
extends: ./base.yaml
routes:
  # Several profiles at once (`?id=a&id=b`): a decision about more than one account.
  - name: profiles
    method: GET
    path: /api/profiles
    action: profile_view
    targets: [{query: id}]
rules:
  - id: connections-profiles
    action: profile_view
    when: {connected: true}
    then: allow
    reason: A connection's profile, recorded.
    log: {sample: 0.1}
  - id: adults-listed
    action: discovery
    when: {target_band: [adult]}
    then: allow
    reason: Adults listed, recorded.
    log: {sample: 0.25}
"""

VIEWS = 400


def counted_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """Decision ids 000...1, 000...2, ... instead of random ones: the same decisions are
    kept on every run."""
    numbers = itertools.count(1)
    monkeypatch.setattr(records, "new_decision_id", lambda: f"{next(numbers):024x}")


def within_bounds(kept: int, views: int, rate: float) -> bool:
    """Within four standard deviations of the binomial's mean."""
    return abs(kept - views * rate) <= 4 * math.sqrt(views * rate * (1 - rate))


class Sampled:
    def __init__(self, middleware: SafeAccountsMiddleware, client: httpx.AsyncClient) -> None:
        self.middleware = middleware
        self.client = client

    async def get(self, path: str, actor: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params, headers={"x-account-id": actor})

    async def rows(self, rule: str | None = None) -> list[dict[str, Any]]:
        await self.middleware.drain()
        async with self.middleware.engine.connect() as conn:
            found = (await conn.execute(decision_log.select().order_by(decision_log.c.id))).mappings().all()
        return [dict(r) for r in found if rule is None or r["rule"] == rule]


@pytest.fixture
def served(
    engine: AsyncEngine, database_url: str, tmp_path: Path, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Any]:
    counted_ids(monkeypatch)
    (tmp_path / "base.yaml").write_text(POLICY)
    policy = tmp_path / "sampled.yaml"
    policy.write_text(SAMPLED)

    async def serve(restricted: str | None = None) -> AsyncIterator[Sampled]:
        await seed(engine, clock)
        middleware = SafeAccountsMiddleware(
            HostApp().build(), policy=policy, database_url=database_url, clock=clock,
            signals=attach_grooming_alerts() if restricted else None,
        )
        runtime = await middleware.start()
        if restricted is not None:
            await runtime.alerts.restrictions.restrict(restricted, reason="an alert, in the test")
        transport = httpx.ASGITransport(app=middleware)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Sampled(middleware, client)
        await middleware.close()
        await drop_host_tables(engine)

    return serve


@pytest.fixture
async def sampled(served: Callable[..., AsyncIterator[Sampled]]) -> AsyncIterator[Sampled]:
    async for app in served():
        yield app


async def test_a_share_of_the_allowed_profile_views_is_logged_each_with_its_rate(sampled: Sampled) -> None:
    for _ in range(VIEWS):  # "parent" is connected with "other-adult"
        response = await sampled.get("/api/accounts/other-adult", "parent")
        assert response.status_code == 200 and response.json()["location"] == "Leeds"  # as the app made it
    rows = await sampled.rows("connections-profiles")
    assert within_bounds(len(rows), VIEWS, 0.1)
    assert 0 < len(rows) < VIEWS
    assert {(r["outcome"], r["sample_rate"], r["target_id"]) for r in rows} == {("allow", 0.1, "other-adult")}
    # Kept because its decision's id falls under the rate, and for no other reason.
    assert all(share(r["id"]) < 0.1 for r in rows)


async def test_a_list_that_filters_nobody_is_sampled_at_its_rules_rate(sampled: Sampled) -> None:
    for _ in range(VIEWS):  # a stranger to "other-adult": its friends list lists one adult
        response = await sampled.get("/api/accounts/other-adult", "adult")
        assert response.json()["friends"] == [{"id": "parent"}]
    rows = await sampled.rows("adults-listed")
    assert within_bounds(len(rows), VIEWS, 0.25)
    assert {(r["sample_rate"], r["affected"]) for r in rows} == {(0.25, 1)}
    assert await sampled.rows("connections-profiles") == []  # not connected: no profile rule applied


async def test_a_filtered_page_keeps_every_row(sampled: Sampled) -> None:
    for _ in range(40):  # a stranger's search: the children are filtered, the adults listed
        page = (await sampled.get("/api/search", "adult")).json()
        assert {r["id"] for r in page["results"]} == {"adult", "parent", "other-adult"}
    filtered = await sampled.rows("minors-out-of-stranger-discovery")
    listed = await sampled.rows("adults-listed")
    assert len(filtered) == len(listed) == 40
    assert {(r["sample_rate"], r["affected"]) for r in listed} == {(None, 2)}  # the actor is not their own stranger


async def test_a_refused_request_keeps_its_allowed_rows(sampled: Sampled) -> None:
    for _ in range(40):  # one connection's profile and a child's hidden from them: refused
        response = await sampled.get("/api/profiles", "parent", id=["other-adult", "young"])
        assert response.status_code == 404
    hidden = await sampled.rows("hide-child-profile-from-adult-strangers")
    allowed = await sampled.rows("connections-profiles")
    assert len(hidden) == len(allowed) == 40
    assert {r["sample_rate"] for r in allowed} == {None}


async def test_a_redacted_request_keeps_its_allowed_rows(sampled: Sampled) -> None:
    for _ in range(40):  # a connection's profile and a child's the parent is no connection of
        await sampled.get("/api/profiles", "parent", id=["other-adult", "kid-friend"])
    redacted = await sampled.rows("redact-minor-profile-for-strangers")
    allowed = await sampled.rows("connections-profiles")
    assert len(redacted) == len(allowed) == 40
    assert {r["sample_rate"] for r in allowed} == {None}


async def test_a_restricted_actors_decisions_are_all_logged(served: Callable[..., AsyncIterator[Sampled]]) -> None:
    async for app in served(restricted="parent"):
        for _ in range(40):
            assert (await app.get("/api/accounts/other-adult", "parent")).status_code == 200
        rows = await app.rows("connections-profiles")
        assert len(rows) == 40
        assert {r["sample_rate"] for r in rows} == {None}
