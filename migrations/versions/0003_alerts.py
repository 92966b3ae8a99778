"""Grooming alerts, restrictions, and the alert delivery outbox.

Revision ID: 0003_alerts
Revises: 0002_decision_log
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_alerts"
down_revision = "0002_decision_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "safe_accounts_alerts",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("signal", sa.String(128), nullable=False),
        sa.Column("window_key", sa.String(32), nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("decision_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_safe_accounts_alerts"),
        sa.UniqueConstraint(
            "subject", "signal", "window_key", name="uq_safe_accounts_alerts_subject_signal_window"
        ),
    )
    op.create_index(
        "ix_safe_accounts_alerts_status_created_at", "safe_accounts_alerts", ["status", "created_at"]
    )
    op.create_table(
        "safe_accounts_restrictions",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(255), nullable=False),
        sa.Column("alert_id", sa.String(32), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("lifted_at", sa.Float, nullable=True),
        sa.Column("lifted_by", sa.String(255), nullable=True),
        sa.Column("lift_note", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_safe_accounts_restrictions"),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["safe_accounts_alerts.id"],
            name="fk_safe_accounts_restrictions_alert_id_safe_accounts_alerts",
        ),
    )
    op.create_index(
        "ix_safe_accounts_restrictions_account_id_lifted_at",
        "safe_accounts_restrictions",
        ["account_id", "lifted_at"],
    )
    op.create_table(
        "safe_accounts_alert_outbox",
        sa.Column("alert_id", sa.String(32), nullable=False),
        sa.Column("destination", sa.String(255), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("delivered_at", sa.Float, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("alert_id", "destination", name="pk_safe_accounts_alert_outbox"),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["safe_accounts_alerts.id"],
            name="fk_safe_accounts_alert_outbox_alert_id_safe_accounts_alerts",
        ),
    )
    op.create_index(
        "ix_safe_accounts_alert_outbox_delivered_at_next_attempt_at",
        "safe_accounts_alert_outbox",
        ["delivered_at", "next_attempt_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_safe_accounts_alert_outbox_delivered_at_next_attempt_at", "safe_accounts_alert_outbox")
    op.drop_table("safe_accounts_alert_outbox")
    op.drop_index("ix_safe_accounts_restrictions_account_id_lifted_at", "safe_accounts_restrictions")
    op.drop_table("safe_accounts_restrictions")
    op.drop_index("ix_safe_accounts_alerts_status_created_at", "safe_accounts_alerts")
    op.drop_table("safe_accounts_alerts")
