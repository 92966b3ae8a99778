"""A list's decision-log row names every account its rule applied to.

One row per rule per list answered (with `affected` counting the accounts) was already the
log's shape; `targets` keeps each account's id and band on that row, where only the first
was kept before. NULL on a row about one account and on every row written before.

Revision ID: 0007_decision_targets
Revises: 0006_one_live_alert_per_account
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_decision_targets"
down_revision = "0006_one_live_alert_per_account"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("safe_accounts_decisions", sa.Column("targets", sa.JSON, nullable=True))
    op.add_column("safe_accounts_held_decisions", sa.Column("targets", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("safe_accounts_held_decisions") as batch:
        batch.drop_column("targets")
    with op.batch_alter_table("safe_accounts_decisions") as batch:
        batch.drop_column("targets")
