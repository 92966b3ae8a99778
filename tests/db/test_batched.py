"""A table written in batches: nothing on the response path, nothing lost while SQL is down."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.db.engine import make_engine
from safe_accounts.decisions.log import DecisionLog, DecisionRow
from safe_accounts.decisions.table import decision_log


def row(n: int) -> DecisionRow:
    return DecisionRow(
        id=f"d{n}", at=1_800_000_000.0 + n, action="direct_message", rule="r", policy_version="v",
        mode="enforce", outcome="deny", status=403, actor_id="a", actor_band="adult",
        target_id="t", target_band="13_15", route="dm",
    )


async def test_rows_queued_while_the_database_is_down_are_written_when_it_returns(engine: AsyncEngine, database_url: str) -> None:
    log = DecisionLog(make_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none"))
    for n in range(3):
        log.record(row(n))
    assert await log.flush() == 0
    assert log.health()["queued"] == 3 and log.health()["last_error"] is not None
    await log._engine.dispose()  # noqa: SLF001 - the database "returns": same queue, a working engine
    log._engine = engine  # noqa: SLF001
    assert await log.flush() == 3
    async with engine.connect() as conn:
        ids = sorted((await conn.execute(select(decision_log.c.id))).scalars())
    assert ids == ["d0", "d1", "d2"]


async def test_beyond_its_limit_the_oldest_rows_are_dropped_and_counted(engine: AsyncEngine) -> None:
    log = DecisionLog(engine, limit=2)
    for n in range(5):
        log.record(row(n))
    assert log.health()["dropped"] == 3
    await log.close()
    async with engine.connect() as conn:
        ids = sorted((await conn.execute(select(decision_log.c.id))).scalars())
    assert ids == ["d3", "d4"]
