"""What a restricted account is told: the policy's `moderation.restricted_notice`, neutral by
default - never that the accounts it tried to reach are children, nor that a moderator is
looking - and no rule id (whose name would say it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock
from safe_accounts.policy.model import DEFAULT_RESTRICTED_NOTICE
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts

from .conftest import POLICY, HostApp, drop_host_tables, seed

REVEALING = ("under-18", "minor", "child", "moderator", "review", "safety team")


@pytest.fixture(params=["default", "the policy's own words"])
async def restricted(
    request: pytest.FixtureRequest, engine: AsyncEngine, database_url: str, tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    await seed(engine, clock)
    policy = tmp_path / "policy.yaml"
    words = DEFAULT_RESTRICTED_NOTICE
    text = POLICY
    if request.param != "default":
        words = "You can't do that right now. See our community rules."
        text += f"moderation:\n  restricted_notice: \"{words}\"\n"
    policy.write_text(text)
    middleware = SafeAccountsMiddleware(
        HostApp().build(), policy=policy, database_url=database_url, clock=clock,
        signals=attach_grooming_alerts(),
    )
    runtime = await middleware.start()
    await runtime.alerts.restrictions.restrict("parent", reason="an alert, in the test")
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://host") as client:
        yield client, words
    await middleware.close()
    await drop_host_tables(engine)


async def test_a_restricted_account_is_refused_in_neutral_words_without_the_rule(
    restricted: tuple[httpx.AsyncClient, str],
) -> None:
    client, words = restricted
    # "parent" is connected to "kid": only the restriction refuses these.
    dm = await client.post("/api/v1/messages", json={"to": "kid"}, headers={"x-account-id": "parent"})
    request = await client.post("/api/friend-requests", json={"to": "kid"}, headers={"x-account-id": "parent"})
    for refused in (dm, request):
        assert refused.status_code == 403
        problem = refused.json()
        assert problem["detail"] == words
        assert "rule" not in problem and problem["decision_id"]
        assert not any(word in refused.text.lower() for word in REVEALING)


async def test_other_refusals_still_name_their_rule(restricted: tuple[httpx.AsyncClient, str]) -> None:
    client, _ = restricted
    stranger = await client.post("/api/v1/messages", json={"to": "kid"}, headers={"x-account-id": "adult"})
    assert stranger.status_code == 403
    assert stranger.json()["rule"] == "stranger-dm-to-minor"
