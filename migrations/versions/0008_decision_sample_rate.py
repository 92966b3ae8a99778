"""A decision-log row of an `allow` rule that samples its log keeps its sampling rate.

A rule `then: allow` with `log: {sample: R}` writes only a share R of its decisions (on the
actions that change nothing: profile views, discovery); `sample_rate` keeps R on each row it
writes, so a count of rows scales up to an honest estimate (each row stands for 1/R
decisions). NULL on every other row and on every row written before: each stands for itself.

Revision ID: 0008_decision_sample_rate
Revises: 0007_decision_targets
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_decision_sample_rate"
down_revision = "0007_decision_targets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("safe_accounts_decisions", sa.Column("sample_rate", sa.Float, nullable=True))
    op.add_column("safe_accounts_held_decisions", sa.Column("sample_rate", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("safe_accounts_held_decisions") as batch:
        batch.drop_column("sample_rate")
    with op.batch_alter_table("safe_accounts_decisions") as batch:
        batch.drop_column("sample_rate")
