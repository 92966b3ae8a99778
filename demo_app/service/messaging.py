"""Conversations: direct (one per pair of accounts) and group, and their messages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, exists, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..problems import forbidden, invalid, not_found
from ..tables import accounts, conversation_participants, conversations, messages
from . import accounts as people
from .contacts import blocked_between, reachable

DIRECT, GROUP = "direct", "group"
MAX_TEXT = 2000
MAX_TITLE = 80
MAX_PARTICIPANTS = 50
HISTORY = 200  # messages shown in one conversation


def _direct_key(a: int, b: int) -> str:
    return f"{min(a, b)}:{max(a, b)}"


async def _participants(conn: AsyncConnection, conversation_id: int) -> list[dict[str, Any]]:
    result = await conn.execute(
        select(accounts.c.id, accounts.c.handle, accounts.c.display_name)
        .join(conversation_participants, conversation_participants.c.account_id == accounts.c.id)
        .where(conversation_participants.c.conversation_id == conversation_id)
        .order_by(accounts.c.id)
    )
    return [people.card(r) for r in result]


async def _is_participant(conn: AsyncConnection, conversation_id: int, account: int) -> bool:
    query = select(
        exists().where(
            conversation_participants.c.conversation_id == conversation_id,
            conversation_participants.c.account_id == account,
        )
    )
    return bool(await conn.scalar(query))


async def _joined(conn: AsyncConnection, account: int, conversation_id: int) -> Row[Any]:
    """The conversation, if `account` takes part in it; otherwise it does not exist for them."""
    row = None
    if people.fits(conversation_id):
        query = select(conversations).where(conversations.c.id == conversation_id)
        row = (await conn.execute(query)).first()
    if row is None or not await _is_participant(conn, conversation_id, account):
        raise not_found(f"you have no conversation {conversation_id}")
    return row


def _message_view(row: Row[Any], sender: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "conversation_id": row.conversation_id,
        "from": sender,
        "text": row.text,
        "created_at": row.created_at,
    }


async def _messages(
    conn: AsyncConnection, conversation_id: int, limit: int
) -> list[dict[str, Any]]:
    result = await conn.execute(
        select(messages, accounts.c.handle, accounts.c.display_name)
        .join(accounts, accounts.c.id == messages.c.sender_id)
        .where(messages.c.conversation_id == conversation_id)
        .order_by(messages.c.id.desc())
        .limit(limit)
    )
    rows = list(reversed(result.all()))
    return [
        _message_view(r, {"id": r.sender_id, "handle": r.handle, "display_name": r.display_name})
        for r in rows
    ]


async def _write(
    conn: AsyncConnection, conversation_id: int, sender: int, text: str, now: float
) -> dict[str, Any]:
    message_id = await conn.scalar(
        insert(messages)
        .values(conversation_id=conversation_id, sender_id=sender, text=text, created_at=now)
        .returning(messages.c.id)
    )
    row = (await conn.execute(select(messages).where(messages.c.id == message_id))).one()
    return _message_view(row, people.card(await people.require(conn, sender)))


async def _join(conn: AsyncConnection, conversation_id: int, account: int, now: float) -> None:
    await conn.execute(
        insert(conversation_participants).values(
            conversation_id=conversation_id, account_id=account, joined_at=now
        )
    )


async def _direct_conversation(conn: AsyncConnection, a: int, b: int, now: float) -> int:
    """The one direct conversation of `a` and `b`, started now if they have none."""
    key = _direct_key(a, b)
    query = select(conversations.c.id).where(conversations.c.direct_key == key)
    found = await conn.scalar(query)
    if found is not None:
        return int(found)
    try:
        # A savepoint: if both start it at once, the loser reads the winner's row.
        async with conn.begin_nested():
            new_id = await conn.scalar(
                insert(conversations)
                .values(kind=DIRECT, title=None, created_by=a, created_at=now, direct_key=key)
                .returning(conversations.c.id)
            )
            await _join(conn, new_id, a, now)
            await _join(conn, new_id, b, now)
            return int(new_id)
    except IntegrityError:
        return int(await conn.scalar(query))


async def send_direct(
    conn: AsyncConnection, sender: int, to: int, text: str, now: float
) -> dict[str, Any]:
    """A direct message: into the pair's conversation, creating it on the first message."""
    await reachable(conn, sender, to, doing="message")
    conversation_id = await _direct_conversation(conn, sender, to, now)
    return await _write(conn, conversation_id, sender, text, now)


async def create_group(
    conn: AsyncConnection, creator: int, participants: list[int], title: str, now: float
) -> dict[str, Any]:
    others = list(dict.fromkeys(p for p in participants if p != creator))
    if not others:
        raise invalid("`participants` must name at least one other account")
    if len(others) > MAX_PARTICIPANTS:
        raise invalid(f"a group has at most {MAX_PARTICIPANTS} participants")
    for other in others:
        await reachable(conn, creator, other, doing="start a group with")
    conversation_id = await conn.scalar(
        insert(conversations)
        .values(kind=GROUP, title=title or "Group chat", created_by=creator, created_at=now)
        .returning(conversations.c.id)
    )
    for account in [creator, *others]:
        await _join(conn, conversation_id, account, now)
    return await conversation(conn, creator, conversation_id)


async def add_participant(
    conn: AsyncConnection, actor: int, conversation_id: int, account: int, now: float
) -> tuple[dict[str, Any], bool]:
    """Add `account` to a group the actor is in. Returns the conversation and whether
    the account is new to it."""
    row = await _joined(conn, actor, conversation_id)
    if row.kind != GROUP:
        raise invalid("people can be added to group conversations only: start a group instead")
    await reachable(conn, actor, account, doing="add to a conversation")
    added = not await _is_participant(conn, conversation_id, account)
    if added:
        await _join(conn, conversation_id, account, now)
    return await conversation(conn, actor, conversation_id), added


async def post_message(
    conn: AsyncConnection, actor: int, conversation_id: int, text: str, now: float
) -> dict[str, Any]:
    row = await _joined(conn, actor, conversation_id)
    if row.kind == DIRECT:
        others = [p["id"] for p in await _participants(conn, conversation_id) if p["id"] != actor]
        if any([await blocked_between(conn, actor, other) for other in others]):
            raise forbidden("you cannot message this account")
    return await _write(conn, conversation_id, actor, text, now)


async def _summary(conn: AsyncConnection, row: Row[Any]) -> dict[str, Any]:
    last = await _messages(conn, row.id, 1)
    return {
        "id": row.id,
        "kind": row.kind,
        "title": row.title,
        "participants": await _participants(conn, row.id),
        "last_message": last[0] if last else None,
    }


async def conversations_of(conn: AsyncConnection, account: int) -> list[dict[str, Any]]:
    result = await conn.execute(
        select(conversations)
        .join(
            conversation_participants,
            conversation_participants.c.conversation_id == conversations.c.id,
        )
        .where(conversation_participants.c.account_id == account)
        .order_by(conversations.c.id.desc())
    )
    return [await _summary(conn, row) for row in result.all()]


async def conversation(conn: AsyncConnection, account: int, conversation_id: int) -> dict[str, Any]:
    row = await _joined(conn, account, conversation_id)
    return {
        **await _summary(conn, row),
        "messages": await _messages(conn, conversation_id, HISTORY),
    }
