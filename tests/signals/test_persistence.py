"""Whether the signal Redis keeps its data across a restart is said at start-up and in health.

The shared test Redis runs with `--save "" --appendonly no` (.ci/services), so there the
warning is the expected answer; servers of the tests' own say the other answers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from starlette.applications import Starlette

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.signals.persistence import NOT_KEPT, persistence_of
from tests.conftest import unavailable
from tests.redis_cluster import SPARE_PORT, RedisServer, _require_redis_binaries, free_ports

pytestmark = pytest.mark.redis

POLICY = "version: 1\nname: persistence\nextends: baseline\n"


def server(tmp_path: Path, *args: str) -> Iterator[RedisServer]:
    _require_redis_binaries()
    (port,) = free_ports(SPARE_PORT, 1, last=7299)
    started = RedisServer(port, tmp_path / "redis", extra=args)
    try:
        started.start()
    except (RuntimeError, OSError) as exc:
        unavailable("redis-server", exc)
    yield started
    started.stop()


async def ask(url: str) -> object:
    client = aioredis.Redis.from_url(url)
    try:
        return await persistence_of(client)
    finally:
        await client.aclose()


async def test_the_test_redis_keeps_nothing_and_the_middleware_says_so(
    tmp_path: Path, database_url: str, redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="safe_accounts")
    (tmp_path / "policy.yaml").write_text(POLICY)
    app = SafeAccountsMiddleware(
        Starlette(), policy=tmp_path / "policy.yaml", database_url=database_url,
        redis_url=redis_url, redis_prefix=redis_prefix,
    )
    await app.start()
    try:
        warned = [r for r in caplog.records if r.levelno == logging.WARNING and r.msg.startswith(NOT_KEPT)]
        assert len(warned) == 1 and "appendonly no" in warned[0].getMessage()
        assert "password" not in warned[0].getMessage()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            health = (await client.get("/.well-known/safe-accounts/health")).json()
    finally:
        await app.close()
    persistence = health["alerts"]["signals"]["persistence"]
    assert persistence["kept"] is False and persistence["appendonly"] == "no" and persistence["save"] == ""
    assert "docs/signals.md" in persistence["warning"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "kept", "appendonly"),
    [
        (("--appendonly", "yes"), True, "yes"),
        (("--save", "3600 1"), True, "no"),
    ],
    ids=["append-only file", "snapshots"],
)
async def test_an_append_only_file_or_snapshots_keep_the_counts(
    tmp_path: Path, args: tuple[str, ...], kept: bool, appendonly: str
) -> None:
    for started in server(tmp_path, *args):
        found = await ask(started.url)
        assert (found.kept, found.appendonly, found.warning) == (kept, appendonly, None)  # type: ignore[attr-defined]


@pytest.mark.slow
async def test_config_disabled_is_unknown_not_a_failure(tmp_path: Path) -> None:
    for started in server(tmp_path, "--rename-command", "CONFIG", ""):
        found = await ask(started.url)
        assert found.kept is None and found.warning is None  # type: ignore[attr-defined]
        assert "CONFIG GET refused" in found.why_unknown  # type: ignore[attr-defined]


@pytest.mark.slow
async def test_config_disabled_with_an_append_only_file_still_says_kept(tmp_path: Path) -> None:
    for started in server(tmp_path, "--rename-command", "CONFIG", "", "--appendonly", "yes"):
        assert (await ask(started.url)).kept is True  # type: ignore[attr-defined]


@pytest.mark.cluster
async def test_every_primary_of_a_cluster_is_asked(redis_cluster_url: str) -> None:
    client = aioredis.RedisCluster.from_url(redis_cluster_url)
    try:
        found = await persistence_of(client, every_primary=True)
    finally:
        await client.aclose()
    assert (found.kept, found.appendonly, found.save) == (False, "no", "")
