"""The decision log's rows, and the ids that tie a response, a problem and a row together."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.decisions.ids import new_decision_id
from safe_accounts.decisions.log import DecisionLog, DecisionRow
from safe_accounts.decisions.table import decision_log


def test_decision_ids_are_short_unguessable_and_distinct() -> None:
    ids = {new_decision_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 24 and int(i, 16) >= 0 for i in ids)


async def test_a_recorded_decision_is_one_row_with_every_field_and_no_message_text(engine: AsyncEngine) -> None:
    log = DecisionLog(engine)
    log.record(DecisionRow(
        id="d1", at=1_800_000_000.0, action="direct_message", rule="stranger_dm", policy_version="v1",
        mode="enforce", outcome="deny", status=403, actor_id="adult-1", actor_band="adult",
        target_id="child-1", target_band="under_13", route="dm",
    ))
    assert await log.flush() == 1
    async with engine.connect() as conn:
        row = (await conn.execute(select(decision_log))).mappings().one()
    assert dict(row) == {
        "id": "d1", "at": 1_800_000_000.0, "action": "direct_message", "rule": "stranger_dm",
        "policy_version": "v1", "mode": "enforce", "outcome": "deny", "status": 403,
        "actor_id": "adult-1", "actor_band": "adult", "target_id": "child-1",
        "target_band": "under_13", "route": "dm", "affected": 1,
        "targets": None,  # a list's row names its accounts here (tests/middleware/test_list_filtering.py)
        "sample_rate": None,  # every such decision is logged (tests/decisions/test_sampling.py)
    }
    await log.close()
