"""Age bands: one row per account whose age is known.

Revision ID: 0001_age_bands
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001_age_bands"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "safe_accounts_age_bands",
        sa.Column("account_id", sa.String(255), primary_key=True),
        sa.Column("band", sa.String(16), nullable=False),
        sa.Column("assurance", sa.String(16), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("birth_date", sa.Date, nullable=True),
        sa.Column("changed_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_safe_accounts_age_bands"),
    )


def downgrade() -> None:
    op.drop_table("safe_accounts_age_bands")
