"""The demo app's own tables: what any small social app keeps.

Names are the app's (no `safe_accounts_` prefix): Safe Accounts reads `accounts` for
age bands and `friendships` for connections through the SQL in its policy file.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("handle", String(40), nullable=False, unique=True),
    Column("display_name", String(80), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("location", String(80), nullable=True),
    Column("school", String(80), nullable=True),
    Column("bio", Text, nullable=False, default=""),
    # Only the seed and the log-in page use it: the app itself treats everyone alike.
    Column("role", String(16), nullable=False, default="adult"),
)

# Times are seconds since the epoch (float): the same type on SQLite and PostgreSQL,
# and a simulated clock can drive them.
friend_requests = Table(
    "friend_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("from_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("to_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("status", String(10), nullable=False),  # pending, accepted, rejected
    Column("created_at", Float, nullable=False),
    Column("answered_at", Float, nullable=True),
    Index("ix_friend_requests_to_status", "to_id", "status"),
    Index("ix_friend_requests_from_to", "from_id", "to_id"),
)

# Both directions are stored, so "the friends of X" is one index range.
friendships = Table(
    "friendships",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("friend_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("created_at", Float, nullable=False),
)

follows = Table(
    "follows",
    metadata,
    Column("follower_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("followed_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("created_at", Float, nullable=False),
    Index("ix_follows_followed", "followed_id"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(8), nullable=False),  # direct, group
    Column("title", String(80), nullable=True),
    Column("created_by", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("created_at", Float, nullable=False),
    # "lower:higher" for a direct conversation: one per pair, even when both start it at once.
    Column("direct_key", String(40), nullable=True, unique=True),
)

conversation_participants = Table(
    "conversation_participants",
    metadata,
    Column("conversation_id", Integer, ForeignKey("conversations.id"), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("joined_at", Float, nullable=False),
    Index("ix_conversation_participants_account", "account_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), nullable=False),
    Column("sender_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_messages_conversation", "conversation_id", "id"),
)

blocks = Table(
    "blocks",
    metadata,
    Column("blocker_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("blocked_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("created_at", Float, nullable=False),
    Index("ix_blocks_blocked", "blocked_id"),
)

reports = Table(
    "reports",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("reporter_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

# Accounts the app's moderators suspended: they can no longer log in, and their sessions end.
# A table of its own (not a column of `accounts`), so an existing demo.db gains it on start.
suspensions = Table(
    "suspensions",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("suspended_at", Float, nullable=False),
    Column("suspended_by", String(80), nullable=False),
)

# Accounts the platform has verified as a school's or a club's staff (a coach, a teacher, a
# youth worker): the policy's `relationships.vouched` reads it. A table of its own, so an
# existing demo.db gains it on start; nothing in the app writes it (an operator's job).
staff_vouches = Table(
    "staff_vouches",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("vouched_for_by", String(80), nullable=False),  # the school or club
)

__all__ = [
    "accounts",
    "blocks",
    "conversation_participants",
    "conversations",
    "follows",
    "friend_requests",
    "friendships",
    "messages",
    "metadata",
    "reports",
    "staff_vouches",
    "suspensions",
]
