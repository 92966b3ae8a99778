"""Our own age-band table (the default band source)."""

from sqlalchemy import Column, Date, Float, String, Table

from ..db.metadata import ACCOUNT_ID_LENGTH, metadata

age_bands = Table(
    "safe_accounts_age_bands",
    metadata,
    # Strings, so any app's id type (int, uuid, snowflake) fits.
    Column("account_id", String(ACCOUNT_ID_LENGTH), primary_key=True),
    Column("band", String(16), nullable=False),
    Column("assurance", String(16), nullable=False),
    Column("source", String(64), nullable=False),
    # Only while the account is a minor: the band must move on on their birthday.
    Column("birth_date", Date, nullable=True),
    # Seconds since the epoch: the same type on SQLite and PostgreSQL, no tz surprises.
    Column("changed_at", Float, nullable=False),
)
