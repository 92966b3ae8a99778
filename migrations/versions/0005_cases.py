"""Cases: items about one account decided together, due times, legal holds; a report's words.

Revision ID: 0005_cases
Revises: 0004_moderation
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_cases"
down_revision = "0004_moderation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("safe_accounts_reports", sa.Column("text", sa.Text, nullable=True))
    op.add_column(
        "safe_accounts_moderation_actions", sa.Column("case_id", sa.String(32), nullable=True)
    )
    op.create_index(
        "ix_safe_accounts_moderation_actions_case_id",
        "safe_accounts_moderation_actions",
        ["case_id"],
    )
    op.create_table(
        "safe_accounts_cases",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("account_id", sa.String(255), nullable=False),
        sa.Column("open_account", sa.String(255), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", sa.Float, nullable=False),
        sa.Column("claimed_by", sa.String(255), nullable=True),
        sa.Column("claimed_at", sa.Float, nullable=True),
        sa.Column("resolved_at", sa.Float, nullable=True),
        sa.Column("resolved_by", sa.String(255), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("held_at", sa.Float, nullable=True),
        sa.Column("held_by", sa.String(255), nullable=True),
        sa.Column("hold_note", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_safe_accounts_cases"),
        sa.UniqueConstraint("open_account", name="uq_safe_accounts_cases_open_account"),
    )
    op.create_index(
        "ix_safe_accounts_cases_status_opened_at", "safe_accounts_cases", ["status", "opened_at"]
    )
    op.create_index("ix_safe_accounts_cases_account_id", "safe_accounts_cases", ["account_id"])
    op.create_table(
        "safe_accounts_case_items",
        sa.Column("item_id", sa.String(32), nullable=False),
        sa.Column("item_kind", sa.String(8), nullable=False),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("item_created_at", sa.Float, nullable=False),
        sa.Column("due_at", sa.Float, nullable=True),
        sa.Column("filed_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("item_id", name="pk_safe_accounts_case_items"),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["safe_accounts_cases.id"],
            name="fk_safe_accounts_case_items_case_id_safe_accounts_cases",
        ),
    )
    op.create_index("ix_safe_accounts_case_items_case_id", "safe_accounts_case_items", ["case_id"])
    op.create_table(
        "safe_accounts_case_events",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("by", sa.String(255), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_safe_accounts_case_events"),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["safe_accounts_cases.id"],
            name="fk_safe_accounts_case_events_case_id_safe_accounts_cases",
        ),
    )
    op.create_index(
        "ix_safe_accounts_case_events_case_id_at", "safe_accounts_case_events", ["case_id", "at"]
    )
    op.create_table(
        "safe_accounts_held_decisions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("rule", sa.String(128), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("actor_id", sa.String(255), nullable=True),
        sa.Column("actor_band", sa.String(16), nullable=False),
        sa.Column("target_id", sa.String(255), nullable=True),
        sa.Column("target_band", sa.String(16), nullable=True),
        sa.Column("route", sa.String(255), nullable=False),
        sa.Column("affected", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_safe_accounts_held_decisions"),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["safe_accounts_cases.id"],
            name="fk_safe_accounts_held_decisions_case_id_safe_accounts_cases",
        ),
    )
    op.create_index(
        "ix_safe_accounts_held_decisions_case_id", "safe_accounts_held_decisions", ["case_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_safe_accounts_held_decisions_case_id", "safe_accounts_held_decisions")
    op.drop_table("safe_accounts_held_decisions")
    op.drop_index("ix_safe_accounts_case_events_case_id_at", "safe_accounts_case_events")
    op.drop_table("safe_accounts_case_events")
    op.drop_index("ix_safe_accounts_case_items_case_id", "safe_accounts_case_items")
    op.drop_table("safe_accounts_case_items")
    op.drop_index("ix_safe_accounts_cases_account_id", "safe_accounts_cases")
    op.drop_index("ix_safe_accounts_cases_status_opened_at", "safe_accounts_cases")
    op.drop_table("safe_accounts_cases")
    with op.batch_alter_table("safe_accounts_moderation_actions") as batch:
        batch.drop_index("ix_safe_accounts_moderation_actions_case_id")
        batch.drop_column("case_id")
    with op.batch_alter_table("safe_accounts_reports") as batch:
        batch.drop_column("text")
