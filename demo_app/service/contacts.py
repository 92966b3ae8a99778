"""Who is connected to whom: friend requests and friendships, follows, blocks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, and_, delete, exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..problems import conflict, forbidden, invalid, not_found
from ..tables import blocks, follows, friend_requests, friendships
from . import accounts as people

PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"


async def blocked_between(conn: AsyncConnection, a: int, b: int) -> bool:
    """Either of the two has blocked the other."""
    query = select(
        exists().where(
            or_(
                and_(blocks.c.blocker_id == a, blocks.c.blocked_id == b),
                and_(blocks.c.blocker_id == b, blocks.c.blocked_id == a),
            )
        )
    )
    return bool(await conn.scalar(query))


async def are_friends(conn: AsyncConnection, a: int, b: int) -> bool:
    query = select(exists().where(friendships.c.account_id == a, friendships.c.friend_id == b))
    return bool(await conn.scalar(query))


async def reachable(conn: AsyncConnection, actor: int, target: int, *, doing: str) -> Row[Any]:
    """The target account, if the actor may reach it at all (it exists, is not the actor,
    and neither has blocked the other). `doing` words the refusal: "send a friend request to"."""
    if target == actor:
        raise invalid(f"you cannot {doing} yourself")
    row = await people.require(conn, target)
    if await blocked_between(conn, actor, target):
        # Which side blocked stays private.
        raise forbidden(f"you cannot {doing} this account")
    return row


# --- friend requests --------------------------------------------------------------------


async def _request_view(conn: AsyncConnection, row: Row[Any]) -> dict[str, Any]:
    sender = await people.require(conn, row.from_id)
    recipient = await people.require(conn, row.to_id)
    return {
        "id": row.id,
        "from": people.card(sender),
        "to": people.card(recipient),
        "status": row.status,
        "created_at": row.created_at,
        "answered_at": row.answered_at,
    }


async def _pending(conn: AsyncConnection, sender: int, recipient: int) -> Row[Any] | None:
    result = await conn.execute(
        select(friend_requests).where(
            friend_requests.c.from_id == sender,
            friend_requests.c.to_id == recipient,
            friend_requests.c.status == PENDING,
        )
    )
    return result.first()


async def send_friend_request(
    conn: AsyncConnection, sender: int, to: int, now: float
) -> dict[str, Any]:
    await reachable(conn, sender, to, doing="send a friend request to")
    if await are_friends(conn, sender, to):
        raise conflict("you are already friends")
    if await _pending(conn, sender, to) is not None:
        raise conflict("you have already sent this account a friend request")
    if await _pending(conn, to, sender) is not None:
        raise conflict("this account has already sent you a friend request: accept it instead")
    new_id = await conn.scalar(
        insert(friend_requests)
        .values(from_id=sender, to_id=to, status=PENDING, created_at=now)
        .returning(friend_requests.c.id)
    )
    row = (await conn.execute(select(friend_requests).where(friend_requests.c.id == new_id))).one()
    return await _request_view(conn, row)


async def incoming_requests(conn: AsyncConnection, account: int) -> list[dict[str, Any]]:
    result = await conn.execute(
        select(friend_requests)
        .where(friend_requests.c.to_id == account, friend_requests.c.status == PENDING)
        .order_by(friend_requests.c.id)
    )
    return [await _request_view(conn, row) for row in result.all()]


async def answer_friend_request(
    conn: AsyncConnection, account: int, request_id: int, *, accept: bool, now: float
) -> dict[str, Any]:
    """Accept or reject a request sent to `account`; accepting makes them friends."""
    if not people.fits(request_id):
        raise not_found(f"you have no friend request {request_id}")
    result = await conn.execute(
        select(friend_requests).where(
            friend_requests.c.id == request_id, friend_requests.c.to_id == account
        )
    )
    row = result.first()
    if row is None:
        raise not_found(f"you have no friend request {request_id}")
    if row.status != PENDING:
        raise conflict(f"this friend request was already {row.status}")
    status = ACCEPTED if accept else REJECTED
    await conn.execute(
        update(friend_requests)
        .where(friend_requests.c.id == request_id)
        .values(status=status, answered_at=now)
    )
    if accept:
        await befriend(conn, row.from_id, row.to_id, now)
    row = (
        await conn.execute(select(friend_requests).where(friend_requests.c.id == request_id))
    ).one()
    return await _request_view(conn, row)


async def befriend(conn: AsyncConnection, a: int, b: int, now: float) -> None:
    """Store the friendship both ways (idempotent)."""
    for one, other in ((a, b), (b, a)):
        if not await are_friends(conn, one, other):
            await conn.execute(
                insert(friendships).values(account_id=one, friend_id=other, created_at=now)
            )


# --- follows ----------------------------------------------------------------------------


async def follow(
    conn: AsyncConnection, follower: int, to: int, now: float
) -> tuple[dict[str, Any], bool]:
    """Follow `to`. Returns the follow and whether it is new."""
    followed = await reachable(conn, follower, to, doing="follow")
    result = await conn.execute(
        select(follows).where(follows.c.follower_id == follower, follows.c.followed_id == to)
    )
    row = result.first()
    created = row is None
    if created:
        await conn.execute(
            insert(follows).values(follower_id=follower, followed_id=to, created_at=now)
        )
    me = await people.require(conn, follower)
    return {
        "follower": people.card(me),
        "followed": people.card(followed),
        "created_at": now if created else row.created_at,
    }, created


# --- blocks -----------------------------------------------------------------------------


async def block(
    conn: AsyncConnection, blocker: int, account: int, now: float
) -> tuple[dict[str, Any], bool]:
    """Block `account`: it can no longer find, reach or follow the blocker. Undoes the
    friendship and follows between them and closes pending requests."""
    if account == blocker:
        raise invalid("you cannot block yourself")
    blocked = await people.require(conn, account)
    result = await conn.execute(
        select(blocks).where(blocks.c.blocker_id == blocker, blocks.c.blocked_id == account)
    )
    row = result.first()
    created = row is None
    if created:
        await conn.execute(
            insert(blocks).values(blocker_id=blocker, blocked_id=account, created_at=now)
        )
        pair = [(blocker, account), (account, blocker)]
        for a, b in pair:
            await conn.execute(
                delete(friendships).where(
                    friendships.c.account_id == a, friendships.c.friend_id == b
                )
            )
            await conn.execute(
                delete(follows).where(follows.c.follower_id == a, follows.c.followed_id == b)
            )
            await conn.execute(
                update(friend_requests)
                .where(
                    friend_requests.c.from_id == a,
                    friend_requests.c.to_id == b,
                    friend_requests.c.status == PENDING,
                )
                .values(status=REJECTED, answered_at=now)
            )
    return {
        "blocker": blocker,
        "blocked": people.card(blocked),
        "created_at": now if created else row.created_at,
    }, created


__all__ = [
    "answer_friend_request",
    "are_friends",
    "befriend",
    "block",
    "blocked_between",
    "follow",
    "incoming_requests",
    "reachable",
    "send_friend_request",
]
