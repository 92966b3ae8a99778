"""Moderation in SQL: child-endangerment reports, moderators' actions, and what retention keeps.

Reports carry ids, bands and times - never the report's free text. Once a resolved report
is past retention its account ids are erased and the row stays as an anonymous record,
so every figure of the transparency report stays computable from stored rows.
"""

from sqlalchemy import Column, Float, Index, Integer, String, Table, Text

from ..db.metadata import metadata

reports = Table(
    "safe_accounts_reports",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("at", Float, nullable=False),
    # Erased (NULL) once the report is resolved and past retention.
    Column("reporter_id", String(255), nullable=True),
    Column("reporter_band", String(16), nullable=False),
    Column("reported_id", String(255), nullable=True),
    Column("reported_band", String(16), nullable=False),
    Column("decision_id", String(64), nullable=True),
    Column("status", String(16), nullable=False),  # open, acknowledged, resolved
    Index("ix_safe_accounts_reports_status_at", "status", "at"),
    Index("ix_safe_accounts_reports_reported_id", "reported_id"),
    Index("ix_safe_accounts_reports_at", "at"),
)

moderation_actions = Table(
    "safe_accounts_moderation_actions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("item_kind", String(8), nullable=False),  # alert, report
    Column("item_id", String(32), nullable=False),
    # Copied from the item so response times survive the item's retention.
    Column("item_created_at", Float, nullable=False),
    Column("account_id", String(255), nullable=True),  # the account the item is about
    Column("action", String(32), nullable=False),
    Column("by", String(255), nullable=False),
    Column("at", Float, nullable=False),
    Column("note", Text, nullable=True),
    # What the action did beyond being recorded (e.g. the host's suspend hook failed).
    Column("effect", Text, nullable=True),
    Index("ix_safe_accounts_moderation_actions_item_id_at", "item_id", "at"),
    Index("ix_safe_accounts_moderation_actions_at", "at"),
    Index("ix_safe_accounts_moderation_actions_account_id", "account_id"),
)

# Decision-log rows folded per week before a purge deletes them; the transparency report
# reads these for weeks before the latest purge's `folded_before`.
weekly_figures = Table(
    "safe_accounts_weekly_figures",
    metadata,
    Column("week_start", Integer, primary_key=True),  # epoch seconds of a Monday 00:00 UTC
    Column("figure", String(32), primary_key=True),
    Column("action", String(32), primary_key=True),
    Column("band", String(16), primary_key=True),
    Column("count", Integer, nullable=False),
)

purges = Table(
    "safe_accounts_purges",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("older_than_days", Integer, nullable=False),
    # Everything of the purged kinds before this instant (a Monday 00:00 UTC) was folded.
    Column("folded_before", Integer, nullable=False),
    Column("decisions_deleted", Integer, nullable=False),
    Column("reports_erased", Integer, nullable=False),
    Column("evidence_cleared", Integer, nullable=False),
)
