"""Suspended accounts: what the app's own moderators decided (in this demo, through the
moderation pages mounted beside it). A suspended account cannot log in, and a session it
already has ends at its next request."""

from __future__ import annotations

from sqlalchemy import exists, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..tables import suspensions


async def suspend(conn: AsyncConnection, account_id: int, *, by: str, now: float) -> bool:
    """Suspend `account_id`; False if it already was (a repeat changes nothing)."""
    if await is_suspended(conn, account_id):
        return False
    try:
        async with conn.begin_nested():  # two suspensions at once: the second finds the first
            await conn.execute(
                insert(suspensions).values(account_id=account_id, suspended_at=now, suspended_by=by)
            )
    except IntegrityError:
        return False
    return True


async def is_suspended(conn: AsyncConnection, account_id: int) -> bool:
    return bool(await conn.scalar(select(exists().where(suspensions.c.account_id == account_id))))
