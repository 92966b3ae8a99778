"""Moderation: child-endangerment reports, moderators' actions, weekly figures kept by purges.

Revision ID: 0004_moderation
Revises: 0003_alerts
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_moderation"
down_revision = "0003_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "safe_accounts_reports",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("reporter_id", sa.String(255), nullable=True),
        sa.Column("reporter_band", sa.String(16), nullable=False),
        sa.Column("reported_id", sa.String(255), nullable=True),
        sa.Column("reported_band", sa.String(16), nullable=False),
        sa.Column("decision_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_safe_accounts_reports"),
    )
    op.create_index("ix_safe_accounts_reports_status_at", "safe_accounts_reports", ["status", "at"])
    op.create_index(
        "ix_safe_accounts_reports_reported_id", "safe_accounts_reports", ["reported_id"]
    )
    op.create_index("ix_safe_accounts_reports_at", "safe_accounts_reports", ["at"])
    op.create_table(
        "safe_accounts_moderation_actions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("item_kind", sa.String(8), nullable=False),
        sa.Column("item_id", sa.String(32), nullable=False),
        sa.Column("item_created_at", sa.Float, nullable=False),
        sa.Column("account_id", sa.String(255), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("by", sa.String(255), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("effect", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_safe_accounts_moderation_actions"),
    )
    op.create_index(
        "ix_safe_accounts_moderation_actions_item_id_at",
        "safe_accounts_moderation_actions",
        ["item_id", "at"],
    )
    op.create_index(
        "ix_safe_accounts_moderation_actions_at", "safe_accounts_moderation_actions", ["at"]
    )
    op.create_index(
        "ix_safe_accounts_moderation_actions_account_id",
        "safe_accounts_moderation_actions",
        ["account_id"],
    )
    op.create_table(
        "safe_accounts_weekly_figures",
        sa.Column("week_start", sa.Integer, nullable=False),
        sa.Column("figure", sa.String(32), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("band", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint(
            "week_start", "figure", "action", "band", name="pk_safe_accounts_weekly_figures"
        ),
    )
    op.create_table(
        "safe_accounts_purges",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("older_than_days", sa.Integer, nullable=False),
        sa.Column("folded_before", sa.Integer, nullable=False),
        sa.Column("decisions_deleted", sa.Integer, nullable=False),
        sa.Column("reports_erased", sa.Integer, nullable=False),
        sa.Column("evidence_cleared", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_safe_accounts_purges"),
    )


def downgrade() -> None:
    op.drop_table("safe_accounts_purges")
    op.drop_table("safe_accounts_weekly_figures")
    op.drop_index(
        "ix_safe_accounts_moderation_actions_account_id", "safe_accounts_moderation_actions"
    )
    op.drop_index("ix_safe_accounts_moderation_actions_at", "safe_accounts_moderation_actions")
    op.drop_index(
        "ix_safe_accounts_moderation_actions_item_id_at", "safe_accounts_moderation_actions"
    )
    op.drop_table("safe_accounts_moderation_actions")
    op.drop_index("ix_safe_accounts_reports_at", "safe_accounts_reports")
    op.drop_index("ix_safe_accounts_reports_reported_id", "safe_accounts_reports")
    op.drop_index("ix_safe_accounts_reports_status_at", "safe_accounts_reports")
    op.drop_table("safe_accounts_reports")
