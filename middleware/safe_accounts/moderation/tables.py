"""Moderation in SQL: child-endangerment reports, cases, moderators' actions, and what
retention keeps.

Reports carry ids, bands, times and - where the policy names the field - the reporter's
own words (`text`), never a message's. Once a resolved report is past retention its
account ids and words are erased and the row stays as an anonymous record, so every
figure of the transparency report stays computable from stored rows. A case under legal
hold keeps everything.
"""

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from ..db.metadata import ACCOUNT_ID_LENGTH, metadata

reports = Table(
    "safe_accounts_reports",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("at", Float, nullable=False),
    # Erased (NULL) once the report is resolved and past retention.
    Column("reporter_id", String(ACCOUNT_ID_LENGTH), nullable=True),
    Column("reporter_band", String(16), nullable=False),
    Column("reported_id", String(ACCOUNT_ID_LENGTH), nullable=True),
    Column("reported_band", String(16), nullable=False),
    Column("decision_id", String(64), nullable=True),
    Column("status", String(16), nullable=False),  # open, acknowledged, resolved
    # What the reporter wrote (the route's `report_text`), erased with the account ids.
    Column("text", Text, nullable=True),
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
    Column("account_id", String(ACCOUNT_ID_LENGTH), nullable=True),  # the account the item is about
    Column("action", String(32), nullable=False),
    Column("by", String(ACCOUNT_ID_LENGTH), nullable=False),
    Column("at", Float, nullable=False),
    Column("note", Text, nullable=True),
    # What the action did beyond being recorded (e.g. the host's suspend hook failed).
    Column("effect", Text, nullable=True),
    # An action on a case is one row per item of the case, each with the case's id.
    Column("case_id", String(32), nullable=True),
    Index("ix_safe_accounts_moderation_actions_item_id_at", "item_id", "at"),
    Index("ix_safe_accounts_moderation_actions_case_id", "case_id"),
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

# A case: the open alerts and reports about one account, decided together.
cases = Table(
    "safe_accounts_cases",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("account_id", String(ACCOUNT_ID_LENGTH), nullable=False),
    # The account while the case is open, NULL once it is resolved: at most one open case
    # per account, by a plain unique constraint (NULLs never collide, on SQLite or PostgreSQL).
    Column("open_account", String(ACCOUNT_ID_LENGTH), nullable=True, unique=True),
    Column("status", String(16), nullable=False),  # open, resolved
    Column("opened_at", Float, nullable=False),
    Column("claimed_by", String(ACCOUNT_ID_LENGTH), nullable=True),
    Column("claimed_at", Float, nullable=True),
    Column("resolved_at", Float, nullable=True),
    Column("resolved_by", String(ACCOUNT_ID_LENGTH), nullable=True),
    Column("outcome", String(32), nullable=True),  # the resolving action
    # Legal hold: while set, `purge` keeps everything the case's evidence needs.
    Column("held_at", Float, nullable=True),
    Column("held_by", String(ACCOUNT_ID_LENGTH), nullable=True),
    Column("hold_note", Text, nullable=True),
    Index("ix_safe_accounts_cases_status_opened_at", "status", "opened_at"),
    Index("ix_safe_accounts_cases_account_id", "account_id"),
)

# Which case each item is filed in, and by when a moderator should have decided on it.
case_items = Table(
    "safe_accounts_case_items",
    metadata,
    Column("item_id", String(32), primary_key=True),
    Column("item_kind", String(8), nullable=False),  # alert, report
    Column("case_id", String(32), ForeignKey("safe_accounts_cases.id"), nullable=False),
    Column("item_created_at", Float, nullable=False),
    # The item's creation plus the policy's `moderation.due` (NULL: no due time applies).
    Column("due_at", Float, nullable=True),
    Column("filed_at", Float, nullable=False),
    Index("ix_safe_accounts_case_items_case_id", "case_id"),
)

# What happened to a case besides actions: claimed, unclaimed, held, released, exported.
case_events = Table(
    "safe_accounts_case_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(32), ForeignKey("safe_accounts_cases.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("by", String(ACCOUNT_ID_LENGTH), nullable=False),
    Column("at", Float, nullable=False),
    Column("note", Text, nullable=True),  # a hold's reason; an export's digest
    Index("ix_safe_accounts_case_events_case_id_at", "case_id", "at"),
)

# Decision-log rows about an account under legal hold, copied here when a purge deletes
# them from the log (the log's own weekly folding is unchanged).
held_decisions = Table(
    "safe_accounts_held_decisions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("case_id", String(32), ForeignKey("safe_accounts_cases.id"), nullable=False),
    Column("at", Float, nullable=False),
    Column("action", String(32), nullable=False),
    Column("rule", String(128), nullable=False),
    Column("policy_version", String(64), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("status", Integer, nullable=True),
    Column("actor_id", String(ACCOUNT_ID_LENGTH), nullable=True),
    Column("actor_band", String(16), nullable=False),
    Column("target_id", String(ACCOUNT_ID_LENGTH), nullable=True),
    Column("target_band", String(16), nullable=True),
    Column("route", String(255), nullable=False),
    Column("affected", Integer, nullable=False),
    Column("targets", JSON, nullable=True),  # as the log's (`decisions/table.py`)
    Column("sample_rate", Float, nullable=True),  # as the log's
    Index("ix_safe_accounts_held_decisions_case_id", "case_id"),
)
