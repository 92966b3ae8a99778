"""Create the demo app's tables and put the personas in them. Running it again brings
the personas back to the story (birth dates re-counted from today) and adds nothing twice.

    python -m demo_app.seed --database-url sqlite:///demo.db
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .database import DEFAULT_DATABASE_URL, make_engine
from .personas import DIRECT_CHATS, FOLLOWS, FRIENDS, GROUP_CHATS, PENDING_REQUESTS, PERSONAS
from .problems import ConfigurationProblem
from .service import contacts, messaging
from .tables import accounts, conversations, follows, friend_requests, metadata

DATABASE_URL_ENV = "DEMO_APP_DATABASE_URL"


@dataclass(frozen=True, slots=True)
class Seeded:
    """What one run added (zero everywhere on a second run, except refreshed personas)."""

    personas: int
    friendships: int
    follows: int
    conversations: int
    requests: int


IDS = {p.handle: p.id for p in PERSONAS}


async def _personas(conn: AsyncConnection, today: date) -> int:
    added = 0
    for p in PERSONAS:
        values = {
            "handle": p.handle,
            "display_name": p.display_name,
            "birth_date": p.birth_date(today),
            "location": p.location,
            "school": p.school,
            "bio": p.bio,
            "role": p.role,
        }
        exists = await conn.scalar(select(accounts.c.id).where(accounts.c.id == p.id))
        if exists is None:
            await conn.execute(insert(accounts).values(id=p.id, **values))
            added += 1
        else:
            await conn.execute(update(accounts).where(accounts.c.id == p.id).values(**values))
    if conn.dialect.name == "postgresql":
        # Ids were given explicitly: move the sequence past them, or the next sign-up collides.
        await conn.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('accounts', 'id'), (SELECT MAX(id) FROM accounts))"
            )
        )
    return added


async def _friendships(conn: AsyncConnection, now: float) -> int:
    added = 0
    for a, b in FRIENDS:
        if not await contacts.are_friends(conn, IDS[a], IDS[b]):
            await contacts.befriend(conn, IDS[a], IDS[b], now)
            added += 1
    return added


async def _follows(conn: AsyncConnection, now: float) -> int:
    added = 0
    for a, b in FOLLOWS:
        found = await conn.scalar(
            select(func.count()).where(
                follows.c.follower_id == IDS[a], follows.c.followed_id == IDS[b]
            )
        )
        if not found:
            await conn.execute(
                insert(follows).values(follower_id=IDS[a], followed_id=IDS[b], created_at=now)
            )
            added += 1
    return added


async def _conversations(conn: AsyncConnection, now: float) -> int:
    added = 0
    for (a, b), lines in DIRECT_CHATS:
        key = f"{min(IDS[a], IDS[b])}:{max(IDS[a], IDS[b])}"
        if await conn.scalar(select(conversations.c.id).where(conversations.c.direct_key == key)):
            continue
        for sender, line in lines:
            other = b if sender == a else a
            await messaging.send_direct(conn, IDS[sender], IDS[other], line, now)
        added += 1
    for title, creator, members, lines in GROUP_CHATS:
        found = await conn.scalar(
            select(conversations.c.id).where(
                conversations.c.title == title, conversations.c.created_by == IDS[creator]
            )
        )
        if found:
            continue
        group = await messaging.create_group(
            conn, IDS[creator], [IDS[m] for m in members], title, now
        )
        for sender, line in lines:
            await messaging.post_message(conn, IDS[sender], group["id"], line, now)
        added += 1
    return added


async def _requests(conn: AsyncConnection, now: float) -> int:
    added = 0
    for a, b in PENDING_REQUESTS:
        found = await conn.scalar(
            select(func.count()).where(
                friend_requests.c.from_id.in_([IDS[a], IDS[b]]),
                friend_requests.c.to_id.in_([IDS[a], IDS[b]]),
            )
        )
        if not found:
            await contacts.send_friend_request(conn, IDS[a], IDS[b], now)
            added += 1
    return added


async def seed(engine: AsyncEngine, *, today: date, now: float) -> Seeded:
    """Create the tables and seed the personas, in one transaction."""
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        return Seeded(
            personas=await _personas(conn, today),
            friendships=await _friendships(conn, now),
            follows=await _follows(conn, now),
            conversations=await _conversations(conn, now),
            requests=await _requests(conn, now),
        )


async def seed_url(url: str) -> Seeded:
    engine = make_engine(url)
    try:
        moment = datetime.now(UTC)
        return await seed(engine, today=moment.date(), now=moment.timestamp())
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m demo_app.seed", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(DATABASE_URL_ENV, DEFAULT_DATABASE_URL),
        help=f"SQLAlchemy URL (env {DATABASE_URL_ENV}; default {DEFAULT_DATABASE_URL})",
    )
    args = parser.parse_args(argv)
    try:
        done = asyncio.run(seed_url(args.database_url))
    except ConfigurationProblem as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (DBAPIError, OSError) as exc:
        print(f"error: cannot seed {args.database_url}: {exc}", file=sys.stderr)
        return 1
    print(
        f"seeded {args.database_url}: {len(PERSONAS)} personas ({done.personas} new), "
        f"{done.friendships} friendships, {done.follows} follows, "
        f"{done.conversations} conversations, {done.requests} friend requests added"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
