"""What a run leaves in Redis: pseudonyms instead of account ids when a key is configured,
and a TTL on every key, so that signal data expires with its windows.

The run drives every kind of grooming signal through the wrapped app, then every key
under the run's prefix is read back whole (names and contents)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock
from safe_accounts.db import migrate
from safe_accounts.db.engine import make_engine
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts
from tests.middleware.conftest import HostApp, Wrapped, seed

from .support import alert_keys

pytestmark = pytest.mark.redis

CHILDREN = ("kid", "young", "teen", "kid-friend")
# Account ids that cannot be mistaken for anything else a key holds ("adult" is also a
# band name, kept in evidence: it is looked for as a subject, between the braces).
DISTINCT_IDS = ("kid", "young", "teen", "kid-friend", "parent", "other-adult")


async def _run(w: Wrapped) -> None:
    for child in CHILDREN:
        assert (await w.post("/api/v1/messages", "adult", json={"to": child})).status_code == 403
        # Refused or not, a contact request to a child is a signal event.
        assert (await w.post("/api/friend-requests", "other-adult", json={"to": child})).status_code in (201, 403, 404)
        assert (await w.post("/api/blocks", child, json={"account": "adult"})).status_code == 200
        assert (await w.post("/api/reports", child, json={"account": "other-adult"})).status_code == 200
    assert (await w.post("/api/friend-requests/7/reject", "kid")).status_code == 200
    await w.middleware.drain()


async def _everything_under(url: str, prefix: str) -> dict[str, tuple[int, str]]:
    """Each key under `prefix`: (its TTL in seconds, its contents as text)."""
    client = aioredis.Redis.from_url(url)
    found: dict[str, tuple[int, str]] = {}
    try:
        async for raw in client.scan_iter(match=f"{prefix}*", count=1000):
            kind = (await client.type(raw)).decode()
            if kind == "hash":
                value: object = await client.hgetall(raw)
            elif kind == "zset":
                value = await client.zrange(raw, 0, -1, withscores=True)
            elif kind == "list":
                value = await client.lrange(raw, 0, -1)
            elif kind == "set":
                value = await client.smembers(raw)
            elif kind == "stream":
                value = await client.xrange(raw)
            else:
                value = await client.get(raw)
            found[raw.decode()] = (await client.ttl(raw), repr(value))
    finally:
        await client.aclose()
    return found


@pytest.fixture(params=[b"a-pseudonym-key-of-32-bytes-or-so!", None], ids=["pseudonymised", "plain"])
async def after_a_run(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str, redis_prefix: str,
    policy_file: Path, clock: FrozenClock,
) -> AsyncIterator[tuple[bytes | None, dict[str, tuple[int, str]]]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}"
    await migrate.upgrade_url(url)
    engine = make_engine(url)
    await seed(engine, clock)
    await engine.dispose()
    middleware = SafeAccountsMiddleware(
        HostApp().build(), policy=policy_file, database_url=url, redis_url=redis_url, redis_prefix=redis_prefix,
        clock=clock, signals=attach_grooming_alerts(pseudonym_key=request.param, flush_interval=0.01),
    )
    await middleware.start()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://t") as client:
        w = Wrapped(HostApp(), middleware, client)
        await _run(w)
        assert middleware.runtime is not None
        alerted = await alert_keys(middleware.runtime.engine)
    await middleware.close()
    # The run raised what it should have (the alerts in SQL name accounts, as moderators need).
    assert ("adult", "blocked-by-minors") in alerted and ("adult", "denied-dms-to-minors") in alerted
    assert ("other-adult", "reported-by-minors") in alerted
    yield request.param, await _everything_under(redis_url, redis_prefix)


async def test_every_key_expires(after_a_run: tuple[bytes | None, dict[str, tuple[int, str]]]) -> None:
    _, keys = after_a_run
    assert keys, "the run wrote signal keys"
    # -1 would be a key that never expires; -2 one that vanished between SCAN and TTL.
    assert {name: ttl for name, (ttl, _) in keys.items() if ttl <= 0} == {}


async def test_with_a_pseudonym_key_no_account_id_is_in_redis(
    after_a_run: tuple[bytes | None, dict[str, tuple[int, str]]],
) -> None:
    key, keys = after_a_run
    text = "\n".join(f"{name} {contents}" for name, (_, contents) in keys.items())
    leaked = sorted({i for i in DISTINCT_IDS if i in text} | ({"adult"} if "{adult}" in text else set()))
    if key is None:
        # Without a key the ids are there in the clear: this search finds them when present.
        assert "{adult}" in text and "{other-adult}" in text
    else:
        assert leaked == []
