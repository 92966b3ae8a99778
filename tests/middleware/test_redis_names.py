"""Apps sharing one Redis server never hear each other: every key and channel of ours
starts with the middleware's `redis_prefix`, and every channel names the database.

Redis keys live in the numbered database a URL selects; pub/sub channels do not: every
client of the server hears a channel whatever its database. Each test below has a
positive control (a worker of the same app hears the change) and a barrier (the other
app hears a later change of its own), so "not heard" is never just "not heard yet".
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from safe_accounts import ConfigurationError, FrozenClock, SafeAccountsMiddleware
from safe_accounts.bands.age import AgeBand
from safe_accounts.config import REDIS_PREFIX_ENV, Settings, channel_prefix
from safe_accounts.db import migrate
from safe_accounts.db.engine import make_engine
from safe_accounts.runtime import Runtime
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts

from .conftest import POLICY, HostApp, drop_host_tables, seed

pytestmark = pytest.mark.redis

NEVER = 3600.0  # a periodic reload from SQL must not stand in for a message


async def eventually(condition: Callable[[], bool], what: str, within: float = 15.0) -> None:
    """Wait for what another worker causes; the bound only keeps a broken run finite."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.01)


def other_database(redis_url: str) -> str:
    base, _, db = redis_url.rpartition("/")
    assert db.isdigit(), redis_url
    return f"{base}/{int(db) + 1}"


class Workers:
    """Middlewares on one SQL database and one Redis server, started and closed together."""

    def __init__(self, tmp_path: Path, policy_file: Path, clock: FrozenClock) -> None:
        self.database_url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
        self.policy_file = policy_file
        self.clock = clock
        self.started: list[SafeAccountsMiddleware] = []

    async def start(self, redis_url: str, prefix: str) -> Runtime:
        middleware = SafeAccountsMiddleware(
            HostApp().build(), policy=self.policy_file, database_url=self.database_url,
            redis_url=redis_url, redis_prefix=prefix, clock=self.clock,
            signals=attach_grooming_alerts(restrictions_refresh_interval=NEVER),
        )
        self.started.append(middleware)
        return await middleware.start()

    async def close(self) -> None:
        for middleware in self.started:
            await middleware.close()


@pytest.fixture
async def workers(tmp_path: Path, policy_file: Path, clock: FrozenClock) -> AsyncIterator[Workers]:
    made = Workers(tmp_path, policy_file, clock)
    await migrate.upgrade_url(made.database_url)
    yield made
    await made.close()


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(params=["another prefix", "another database"])
def other_app(request: pytest.FixtureRequest, redis_url: str, redis_prefix: str) -> tuple[str, str]:
    """The (Redis URL, prefix) of a second app on the same server as (redis_url, redis_prefix)."""
    if request.param == "another prefix":
        return redis_url, f"{redis_prefix}other-app:"
    return other_database(redis_url), redis_prefix


async def test_a_band_change_in_one_app_is_not_heard_by_another_on_the_same_server(
    workers: Workers, redis_url: str, redis_prefix: str, other_app: tuple[str, str]
) -> None:
    here = await workers.start(redis_url, redis_prefix)
    here_too = await workers.start(redis_url, redis_prefix)  # a second worker of the same app
    elsewhere = await workers.start(*other_app)
    elsewhere_too = await workers.start(*other_app)
    child, barrier = unique("child"), unique("barrier")
    await here.bands.set(child, band=AgeBand.B13_15)
    await here.bands.set(barrier, band=AgeBand.ADULT)
    for worker in (here_too, elsewhere):
        await worker.bands.get_many([child, barrier])
        assert worker.bands.cached(child) is not None

    await here.bands.set(child, band=AgeBand.ADULT)  # a correction, announced to this app
    await eventually(lambda: here_too.bands.cached(child) is None, "the same app's worker hears it")
    await elsewhere_too.bands.set(barrier, band=AgeBand.B16_17)  # a later change in the other app
    await eventually(lambda: elsewhere.bands.cached(barrier) is None, "the other app hears its own")

    stale = elsewhere.bands.cached(child)
    assert stale is not None and stale.band is AgeBand.B13_15


async def test_a_restriction_in_one_app_is_not_heard_by_another_on_the_same_server(
    workers: Workers, redis_url: str, redis_prefix: str, other_app: tuple[str, str]
) -> None:
    here = await workers.start(redis_url, redis_prefix)
    here_too = await workers.start(redis_url, redis_prefix)
    elsewhere = await workers.start(*other_app)
    elsewhere_too = await workers.start(*other_app)
    restrictions = {name: rt.alerts.restrictions for name, rt in [
        ("here", here), ("here_too", here_too), ("elsewhere", elsewhere), ("elsewhere_too", elsewhere_too),
    ]}
    suspect, barrier = unique("suspect"), unique("barrier")

    await restrictions["here"].restrict(suspect, reason="test")
    await eventually(lambda: here_too.restrictions.is_restricted(suspect), "the same app's worker hears it")
    await restrictions["elsewhere_too"].restrict(barrier, reason="test")
    await eventually(lambda: elsewhere.restrictions.is_restricted(barrier), "the other app hears its own")

    assert not elsewhere.restrictions.is_restricted(suspect)


async def test_a_relationship_change_in_one_app_is_not_heard_by_another_on_the_same_server(
    tmp_path: Path, clock: FrozenClock, redis_url: str, redis_prefix: str, other_app: tuple[str, str]
) -> None:
    # Relationships remembered far longer than the test: only a message makes a worker forget.
    policy = tmp_path / "cached.yaml"
    policy.write_text(POLICY.replace("cache_seconds: 0", "cache_seconds: 300"))
    workers = Workers(tmp_path, policy, clock)
    await migrate.upgrade_url(workers.database_url)
    engine = make_engine(workers.database_url)
    await seed(engine, clock)
    try:
        here = await workers.start(redis_url, redis_prefix)
        here_too = await workers.start(redis_url, redis_prefix)
        elsewhere = await workers.start(*other_app)
        elsewhere_too = await workers.start(*other_app)
        for worker in (here_too, elsewhere):
            assert await worker.relationships.connected_among("parent", ["kid", "other-adult"])
            assert worker.relationships.cached_connected("parent", "kid") is True

        assert await here.relationships.forget_everywhere(["kid"])  # confirmed by this app's workers
        assert here_too.relationships.cached_connected("parent", "kid") is None
        assert await elsewhere_too.relationships.forget_everywhere(["other-adult"])  # the other app's
        assert elsewhere.relationships.cached_connected("parent", "other-adult") is None

        assert elsewhere.relationships.cached_connected("parent", "kid") is True
    finally:
        await workers.close()
        await drop_host_tables(engine)
        await engine.dispose()


def test_channels_start_with_the_prefix_and_name_the_database() -> None:
    assert channel_prefix("app:", None) == "app:db0:"
    assert channel_prefix("app:", "redis://cache:6379") == "app:db0:"
    assert channel_prefix("app:", "redis://cache:6379/3") == "app:db3:"
    assert channel_prefix("app:", "unix:///run/redis.sock?db=5") == "app:db5:"


def test_the_prefix_comes_from_the_argument_then_the_environment_then_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(REDIS_PREFIX_ENV, raising=False)
    assert Settings.resolve("sqlite:///x.db").redis_prefix == "safe_accounts:"
    monkeypatch.setenv(REDIS_PREFIX_ENV, "from-env:")
    assert Settings.resolve("sqlite:///x.db").redis_prefix == "from-env:"
    assert Settings.resolve("sqlite:///x.db", prefix="given:").redis_prefix == "given:"


@pytest.mark.parametrize("prefix", ["", "{app}:"])
def test_a_prefix_that_would_mix_or_pin_our_keys_stops_start_up(prefix: str) -> None:
    with pytest.raises(ConfigurationError, match="Redis prefix"):
        Settings.resolve("sqlite:///x.db", prefix=prefix)


def test_the_prefix_is_the_middlewares_not_the_signal_wirings() -> None:
    with pytest.raises(ConfigurationError, match="redis_prefix="):
        attach_grooming_alerts(prefix="elsewhere:")
