"""`safe-accounts alerts ack|resolve`, run as a user runs them: records, effects, exit codes."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.moderation import Moderation, ModerationQueue

from .conftest import raise_alert
from .records import T0


async def test_alerts_ack_and_resolve_record_who_and_the_decision(
    cli, engine: AsyncEngine, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    await raise_alert(engine, "a1", "adult-x", T0)
    acked = await asyncio.to_thread(
        cli, "alerts", "ack", "a1", "--by", "mod-1", "--database-url", database_url
    )
    assert acked.code == 0, acked.err
    assert acked.out.startswith("ack on alert a1 (account adult-x) by mod-1 at ")
    resolved = await asyncio.to_thread(
        cli,
        "alerts",
        "resolve",
        "a1",
        "--action",
        "restrict",
        "--by",
        "mod-2",
        "--note",
        "pattern",
        "--json",
        "--database-url",
        database_url,
    )
    assert resolved.code == 0, resolved.err
    record = json.loads(resolved.out)
    assert (record["action"], record["by"], record["note"], record["effect"]) == (
        "restrict",
        "mod-2",
        "pattern",
        "restricted",
    )
    assert [a.action.value for a in await Moderation(engine).actions_on("a1")] == [
        "ack",
        "restrict",
    ]
    assert await ModerationQueue(engine).open_items() == []


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["alerts", "resolve", "a1", "--action", "lift", "--by", "mod-1"],
            2,
            "'lift' is not one of",
        ),
        (["alerts", "ack", "a1"], 2, "Missing option '--by'"),
        (["alerts", "ack", "missing", "--by", "mod-1"], 1, "no alert or report 'missing'"),
        (["alerts", "ack", "a1", "--by", " "], 1, "needs the moderator's id"),
    ],
)
async def test_bad_moderation_commands_exit_non_zero_with_a_message(
    cli,
    engine: AsyncEngine,
    database_url: str,
    args: list[str],
    code: int,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    ran = await asyncio.to_thread(cli, *args, "--database-url", database_url)
    assert ran.code == code
    assert message in ran.err


@pytest.mark.redis
async def test_a_restriction_from_the_cli_reaches_a_running_worker_of_the_same_app(
    cli, engine: AsyncEngine, database_url: str, redis_url: str, redis_prefix: str
) -> None:  # type: ignore[no-untyped-def]
    from safe_accounts.alerts.restrictions import Restrictions
    from safe_accounts.config import channel_prefix

    await raise_alert(engine, "a1", "adult-x", T0)
    # A worker of the app whose `redis_prefix=` is `redis_prefix`; no reload from SQL.
    worker = Restrictions(
        engine, redis_url=redis_url, prefix=channel_prefix(redis_prefix, redis_url), refresh_interval=3600
    )
    await worker.start()
    try:
        ran = await asyncio.to_thread(
            cli, "alerts", "resolve", "a1", "--action", "restrict", "--by", "mod-1",
            "--database-url", database_url, "--redis-url", redis_url, "--redis-prefix", redis_prefix,
        )
        assert ran.code == 0, ran.err
        for _ in range(1500):
            if worker.is_restricted("adult-x"):
                break
            await asyncio.sleep(0.01)
        assert worker.is_restricted("adult-x")
    finally:
        await worker.close()
