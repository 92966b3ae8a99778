"""Every column of ours that holds an account id is `ACCOUNT_ID_LENGTH` wide: the limit the
request path refuses longer ids by is the schema's own (and the migrated database's:
`test_schema_matches_models.py` compares the widths), not a second number beside it."""

from __future__ import annotations

from sqlalchemy import String

from safe_accounts.db.metadata import ACCOUNT_ID_LENGTH
from safe_accounts.db.schema import metadata
from safe_accounts.decide.ids import MAX_ID_LENGTH

# (table, column) of every account id we keep: the accounts decided about, counted, alerted,
# restricted and reported, and the moderators who act on them.
ACCOUNT_COLUMNS = {
    ("safe_accounts_age_bands", "account_id"),
    ("safe_accounts_decisions", "actor_id"),
    ("safe_accounts_decisions", "target_id"),
    ("safe_accounts_alerts", "subject"),
    ("safe_accounts_restrictions", "account_id"),
    ("safe_accounts_restrictions", "created_by"),
    ("safe_accounts_restrictions", "lifted_by"),
    ("safe_accounts_reports", "reporter_id"),
    ("safe_accounts_reports", "reported_id"),
    ("safe_accounts_moderation_actions", "account_id"),
    ("safe_accounts_moderation_actions", "by"),
    ("safe_accounts_cases", "account_id"),
    ("safe_accounts_cases", "open_account"),
    ("safe_accounts_cases", "claimed_by"),
    ("safe_accounts_cases", "resolved_by"),
    ("safe_accounts_cases", "held_by"),
    ("safe_accounts_case_events", "by"),
    ("safe_accounts_held_decisions", "actor_id"),
    ("safe_accounts_held_decisions", "target_id"),
}


def test_every_account_id_column_is_as_wide_as_the_limit() -> None:
    widths = {
        (table, column): metadata.tables[table].c[column].type
        for table, column in ACCOUNT_COLUMNS
    }
    assert all(isinstance(t, String) and t.length == ACCOUNT_ID_LENGTH for t in widths.values()), widths


def test_the_request_paths_limit_is_the_schemas() -> None:
    assert MAX_ID_LENGTH == ACCOUNT_ID_LENGTH
