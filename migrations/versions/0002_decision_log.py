"""Decision log: every deny, hide, filter and redact, enforced or monitored.

Revision ID: 0002_decision_log
Revises: 0001_age_bands
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_decision_log"
down_revision = "0001_age_bands"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "safe_accounts_decisions",
        sa.Column("id", sa.String(32), nullable=False),
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
        sa.Column("affected", sa.Integer, nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("id", name="pk_safe_accounts_decisions"),
    )
    op.create_index("ix_safe_accounts_decisions_at", "safe_accounts_decisions", ["at"])
    op.create_index(
        "ix_safe_accounts_decisions_actor_id_at", "safe_accounts_decisions", ["actor_id", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_safe_accounts_decisions_actor_id_at", "safe_accounts_decisions")
    op.drop_index("ix_safe_accounts_decisions_at", "safe_accounts_decisions")
    op.drop_table("safe_accounts_decisions")
