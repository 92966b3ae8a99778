"""The decision log: every deny, hide, filter and redact (and would-be one in monitor mode).

Never message text: ids, bands, the rule and the outcome only.
"""

from sqlalchemy import Column, Float, Index, Integer, String, Table

from ..db.metadata import metadata

decision_log = Table(
    "safe_accounts_decisions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("at", Float, nullable=False),
    Column("action", String(32), nullable=False),
    Column("rule", String(128), nullable=False),
    Column("policy_version", String(64), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("status", Integer, nullable=True),
    Column("actor_id", String(255), nullable=True),
    Column("actor_band", String(16), nullable=False),
    Column("target_id", String(255), nullable=True),
    Column("target_band", String(16), nullable=True),
    Column("route", String(255), nullable=False),
    # How many list items a filter removed (discovery); 1 otherwise.
    Column("affected", Integer, nullable=False, default=1),
    Index("ix_safe_accounts_decisions_at", "at"),
    Index("ix_safe_accounts_decisions_actor_id_at", "actor_id", "at"),
)
