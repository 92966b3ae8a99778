"""Alerts, restrictions and the alert outbox, in SQL.

Evidence is kinds, bands, mutual counts and times (and the pseudonyms of the accounts
reached when a pseudonym key is configured) - never message text.
"""

from sqlalchemy import (
    JSON,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from ..db.metadata import ACCOUNT_ID_LENGTH, metadata

# An alert not yet resolved (open or acknowledged), as SQL: the predicate of the partial
# unique index below, and of migration 0006, which must stay in step with it.
LIVE = "status <> 'resolved'"

alerts = Table(
    "safe_accounts_alerts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("subject", String(ACCOUNT_ID_LENGTH), nullable=False),
    Column("signal", String(128), nullable=False),
    # The fixed window the crossing fell in: see signals.crossing.window_key.
    Column("window_key", String(32), nullable=False),
    Column("counts", JSON, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False),  # open, acknowledged, resolved
    Column("created_at", Float, nullable=False),
    Column("policy_version", String(64), nullable=False),
    Column("decision_id", String(64), nullable=True),  # the event that crossed the threshold
    # The second line of defence behind the Redis marker: one alert per account, rule, window.
    UniqueConstraint("subject", "signal", "window_key", name="uq_safe_accounts_alerts_subject_signal_window"),
    Index("ix_safe_accounts_alerts_status_created_at", "status", "created_at"),
    # One alert per account until a moderator resolves it: later crossings join it. The store
    # holds this, not the service's look-then-insert, which two workers can run at once.
    Index(
        "uq_safe_accounts_alerts_live_subject",
        "subject",
        unique=True,
        postgresql_where=text(LIVE),
        sqlite_where=text(LIVE),
    ),
)

restrictions = Table(
    "safe_accounts_restrictions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(ACCOUNT_ID_LENGTH), nullable=False),
    Column("alert_id", String(32), ForeignKey("safe_accounts_alerts.id"), nullable=True),
    Column("reason", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("created_by", String(ACCOUNT_ID_LENGTH), nullable=False),
    Column("lifted_at", Float, nullable=True),
    Column("lifted_by", String(ACCOUNT_ID_LENGTH), nullable=True),
    Column("lift_note", Text, nullable=True),
    Index("ix_safe_accounts_restrictions_account_id_lifted_at", "account_id", "lifted_at"),
)

alert_outbox = Table(
    "safe_accounts_alert_outbox",
    metadata,
    Column("alert_id", String(32), ForeignKey("safe_accounts_alerts.id"), primary_key=True),
    Column("destination", String(255), primary_key=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("delivered_at", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_safe_accounts_alert_outbox_delivered_at_next_attempt_at", "delivered_at", "next_attempt_at"),
)
