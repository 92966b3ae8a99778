"""The baseline's cap on contact requests to strangers (`stranger-request-cap`): friction
before any alert. An account whose requests reached five under-18s it shares no friends
with in 24 hours has its next request to anyone it shares no friends with refused - in
words that do not say the target is a child - with no alert; a day later it may go on.

On both signal stores (in process, Redis); with Redis, two workers share one count: the
cap holds at five children reached through either."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.alerts.tables import alerts
from safe_accounts.bands.age import AgeBand, Assurance
from safe_accounts.bands.directory import BandDirectory
from safe_accounts.bands.store import OwnBandStore
from safe_accounts.clock import FrozenClock
from safe_accounts.policy.model import BandCacheSettings
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts

from .conftest import POLICY, HostApp, drop_host_tables, seed

STRANGER_KIDS = [f"stranger-kid-{i}" for i in range(7)]
REVEALING = ("under-18", "minor", "child", "moderator", "review")


async def start_worker(
    database_url: str, policy: Path, clock: FrozenClock, redis_url: str | None, redis_prefix: str | None
) -> tuple[SafeAccountsMiddleware, httpx.AsyncClient]:
    middleware = SafeAccountsMiddleware(
        HostApp().build(), policy=policy, database_url=database_url, clock=clock,
        redis_url=redis_url, redis_prefix=redis_prefix, signals=attach_grooming_alerts(),
    )
    await middleware.start()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://host")
    return middleware, client


async def seed_strangers(engine: AsyncEngine, clock: FrozenClock) -> None:
    await seed(engine, clock)
    directory = BandDirectory(OwnBandStore(engine, clock=clock), cache=BandCacheSettings(), clock=clock)
    for kid in STRANGER_KIDS:
        await directory.set(kid, band=AgeBand.B13_15, assurance=Assurance.SELF_DECLARED)
    await directory.close()


@pytest.fixture(params=["in-process", pytest.param("redis", marks=pytest.mark.redis)])
async def capped(
    request: pytest.FixtureRequest, engine: AsyncEngine, database_url: str, tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[tuple[SafeAccountsMiddleware, httpx.AsyncClient]]:
    redis_url = redis_prefix = None
    if request.param == "redis":
        redis_url = request.getfixturevalue("redis_url")
        redis_prefix = request.getfixturevalue("redis_prefix")
    await seed_strangers(engine, clock)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    middleware, client = await start_worker(database_url, policy, clock, redis_url, redis_prefix)
    yield middleware, client
    await client.aclose()
    await middleware.close()
    await drop_host_tables(engine)


async def request(
    middleware: SafeAccountsMiddleware, client: httpx.AsyncClient, actor: str, target: str
) -> httpx.Response:
    response = await client.post("/api/friend-requests", json={"to": target}, headers={"x-account-id": actor})
    await middleware.drain()  # the event is counted before the next decision reads it
    return response


async def test_the_sixth_unconnected_child_in_a_day_is_refused_without_saying_it_is_a_child(
    capped: tuple[SafeAccountsMiddleware, httpx.AsyncClient], engine: AsyncEngine
) -> None:
    middleware, client = capped
    for kid in STRANGER_KIDS[:5]:
        assert (await request(middleware, client, "adult", kid)).status_code < 400
    refused = await request(middleware, client, "adult", STRANGER_KIDS[5])
    assert refused.status_code == 403
    problem = refused.json()
    assert problem["rule"] == "stranger-request-cap"
    assert "Try again tomorrow" in problem["detail"]
    assert not any(word in refused.text.lower() for word in REVEALING)
    # An adult it shares no friends with is refused alike: the refusal tells nothing of age.
    assert (await request(middleware, client, "adult", "other-adult")).status_code == 403
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(alerts))).scalar_one() == 0


async def test_a_child_the_capped_account_shares_a_friend_with_is_not_refused(
    capped: tuple[SafeAccountsMiddleware, httpx.AsyncClient],
) -> None:
    middleware, client = capped
    for kid in STRANGER_KIDS[:5]:
        await request(middleware, client, "parent", kid)
    # "parent" and "kid-friend" share "kid": a friend in common.
    assert (await request(middleware, client, "parent", "kid-friend")).status_code < 400


async def test_refused_requests_do_not_count_and_the_cap_lifts_as_the_day_passes(
    capped: tuple[SafeAccountsMiddleware, httpx.AsyncClient], clock: FrozenClock
) -> None:
    middleware, client = capped
    for kid in STRANGER_KIDS[:5]:
        await request(middleware, client, "adult", kid)
    for _ in range(3):
        assert (await request(middleware, client, "adult", STRANGER_KIDS[5])).status_code == 403
    clock.advance(25 * 3600)
    assert (await request(middleware, client, "adult", STRANGER_KIDS[5])).status_code < 400
    assert (await request(middleware, client, "adult", STRANGER_KIDS[6])).status_code < 400


@pytest.mark.redis
async def test_two_workers_on_one_redis_hold_the_cap_at_five_children_reached_through_either(
    engine: AsyncEngine, database_url: str, tmp_path: Path, clock: FrozenClock, redis_url: str, redis_prefix: str
) -> None:
    await seed_strangers(engine, clock)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    workers = [await start_worker(database_url, policy, clock, redis_url, redis_prefix) for _ in range(2)]
    try:
        # Three children through one worker, two through the other: five in all.
        for i, kid in enumerate(STRANGER_KIDS[:5]):
            middleware, client = workers[i % 2]
            assert (await request(middleware, client, "adult", kid)).status_code < 400
        for middleware, client in workers:
            refused = await request(middleware, client, "adult", STRANGER_KIDS[5])
            assert refused.status_code == 403 and refused.json()["rule"] == "stranger-request-cap"
    finally:
        for middleware, client in workers:
            await client.aclose()
            await middleware.close()
        await drop_host_tables(engine)
