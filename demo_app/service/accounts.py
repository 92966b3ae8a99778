"""Accounts as others see them: profiles, lists of people, search, suggestions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..fields import MAX_ID
from ..problems import not_found
from ..tables import accounts, blocks, follows, friendships

SEARCH_LIMIT = 50
SUGGESTION_LIMIT = 20

_CARD = (accounts.c.id, accounts.c.handle, accounts.c.display_name)


def fits(an_id: int) -> bool:
    """Ids from paths can be any length; the columns hold 32-bit integers."""
    return 0 < an_id <= MAX_ID


def card(row: Row[Any] | Any) -> dict[str, Any]:
    """The small form of an account that every list and reference uses."""
    return {"id": row.id, "handle": row.handle, "display_name": row.display_name}


async def find(conn: AsyncConnection, account_id: int) -> Row[Any] | None:
    if not fits(account_id):
        return None
    result = await conn.execute(select(accounts).where(accounts.c.id == account_id))
    return result.first()


async def require(conn: AsyncConnection, account_id: int) -> Row[Any]:
    row = await find(conn, account_id)
    if row is None:
        raise not_found(f"there is no account {account_id}")
    return row


async def by_handle(conn: AsyncConnection, handle: str) -> Row[Any] | None:
    result = await conn.execute(select(accounts).where(accounts.c.handle == handle.strip().lower()))
    return result.first()


async def has_blocked(conn: AsyncConnection, blocker: int, blocked: int) -> bool:
    query = select(exists().where(blocks.c.blocker_id == blocker, blocks.c.blocked_id == blocked))
    return bool(await conn.scalar(query))


async def visible(conn: AsyncConnection, viewer: int, account_id: int) -> Row[Any]:
    """The account, unless it does not exist or has blocked the viewer (both: 404)."""
    row = await find(conn, account_id)
    if row is None or (viewer != account_id and await has_blocked(conn, account_id, viewer)):
        raise not_found(f"there is no account {account_id}")
    return row


async def profile(conn: AsyncConnection, viewer: int, account_id: int) -> dict[str, Any]:
    row = await visible(conn, viewer, account_id)
    return {
        **card(row),
        "location": row.location,
        "school": row.school,
        "birthday": row.birth_date.isoformat(),
        "bio": row.bio,
        "friends": await _friends(conn, account_id),
    }


async def friends(conn: AsyncConnection, viewer: int, account_id: int) -> list[dict[str, Any]]:
    await visible(conn, viewer, account_id)
    return await _friends(conn, account_id)


async def followers(conn: AsyncConnection, viewer: int, account_id: int) -> list[dict[str, Any]]:
    await visible(conn, viewer, account_id)
    query = (
        select(*_CARD)
        .join(follows, follows.c.follower_id == accounts.c.id)
        .where(follows.c.followed_id == account_id)
        .order_by(accounts.c.handle)
    )
    return [card(r) for r in await conn.execute(query)]


async def _friends(conn: AsyncConnection, account_id: int) -> list[dict[str, Any]]:
    query = (
        select(*_CARD)
        .join(friendships, friendships.c.friend_id == accounts.c.id)
        .where(friendships.c.account_id == account_id)
        .order_by(accounts.c.handle)
    )
    return [card(r) for r in await conn.execute(query)]


def _not_blocked_with(viewer: int) -> Any:
    """Neither side has blocked the other."""
    return ~exists().where(
        or_(
            and_(blocks.c.blocker_id == accounts.c.id, blocks.c.blocked_id == viewer),
            and_(blocks.c.blocker_id == viewer, blocks.c.blocked_id == accounts.c.id),
        )
    )


def _like_pattern(q: str) -> str:
    escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search(conn: AsyncConnection, viewer: int, q: str) -> list[dict[str, Any]]:
    """Accounts whose handle or name contains `q` (any case), up to 50, by handle."""
    pattern = _like_pattern(q)
    query = (
        select(*_CARD)
        .where(
            or_(
                func.lower(accounts.c.handle).like(pattern, escape="\\"),
                func.lower(accounts.c.display_name).like(pattern, escape="\\"),
            ),
            accounts.c.id != viewer,
            _not_blocked_with(viewer),
        )
        .order_by(accounts.c.handle)
        .limit(SEARCH_LIMIT)
    )
    return [card(r) for r in await conn.execute(query)]


async def suggestions(conn: AsyncConnection, viewer: int) -> list[dict[str, Any]]:
    """People you may know: friends of friends (most mutual friends first), then others."""
    mine = select(friendships.c.friend_id).where(friendships.c.account_id == viewer)
    their = friendships.alias("their")
    mutual = func.count().label("mutual")
    friends_of_friends = (
        select(*_CARD, mutual)
        .join(their, their.c.friend_id == accounts.c.id)
        .where(
            their.c.account_id.in_(mine),
            accounts.c.id != viewer,
            accounts.c.id.not_in(mine),
            _not_blocked_with(viewer),
        )
        .group_by(*_CARD)
        .order_by(mutual.desc(), accounts.c.id)
        .limit(SUGGESTION_LIMIT)
    )
    found = [card(r) for r in await conn.execute(friends_of_friends)]
    if len(found) < SUGGESTION_LIMIT:
        already = [s["id"] for s in found]
        others = (
            select(*_CARD)
            .where(
                accounts.c.id != viewer,
                accounts.c.id.not_in(mine),
                accounts.c.id.not_in(already),
                _not_blocked_with(viewer),
            )
            .order_by(accounts.c.id)
            .limit(SUGGESTION_LIMIT - len(found))
        )
        found += [card(r) for r in await conn.execute(others)]
    return found
