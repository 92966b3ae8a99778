"""One alert per account while it is not resolved: a partial unique index on the subject.

Two workers could each find no open alert for an account and each store one; the index
makes the second insert fail, and the alert service then folds that crossing into the
first alert. A database that already holds such pairs is not changed behind its
moderators' backs: the upgrade stops and names them.

Revision ID: 0006_one_live_alert_per_account
Revises: 0005_cases
"""

import sqlalchemy as sa
from alembic import op

# The base error the CLI prints as one line, without a traceback.
from safe_accounts.errors import SafeAccountsError

revision = "0006_one_live_alert_per_account"
down_revision = "0005_cases"
branch_labels = None
depends_on = None

# The same predicate as safe_accounts.alerts.tables.LIVE (a migration does not import the
# code it migrates: the code moves on, the migration must not).
LIVE = "status <> 'resolved'"


def upgrade() -> None:
    twice = op.get_bind().execute(
        sa.text(
            "SELECT subject, id FROM safe_accounts_alerts WHERE subject IN ("
            f" SELECT subject FROM safe_accounts_alerts WHERE {LIVE}"
            " GROUP BY subject HAVING count(*) > 1"
            f") AND {LIVE} ORDER BY subject, created_at, id"
        )
    ).all()
    if twice:
        by_account: dict[str, list[str]] = {}
        for subject, alert_id in twice:
            by_account.setdefault(subject, []).append(alert_id)
        listed = "; ".join(f"{s}: {', '.join(ids)}" for s, ids in by_account.items())
        raise SafeAccountsError(
            f"{len(by_account)} account(s) have more than one alert that is not resolved ({listed}). "
            "Resolve all but one of each account's alerts (moderation app, or `safe-accounts alerts "
            "resolve ID --action ACTION --by WHO` of the version now running), then run "
            "`safe-accounts db upgrade` again."
        )
    op.create_index(
        "uq_safe_accounts_alerts_live_subject",
        "safe_accounts_alerts",
        ["subject"],
        unique=True,
        postgresql_where=sa.text(LIVE),
        sqlite_where=sa.text(LIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_safe_accounts_alerts_live_subject", "safe_accounts_alerts")
