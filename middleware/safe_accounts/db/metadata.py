"""The one `MetaData` all our tables hang on. Every table name starts `safe_accounts_`
so that we live beside the host app's tables without touching them."""

from sqlalchemy import MetaData

TABLE_PREFIX = "safe_accounts_"
VERSION_TABLE = "safe_accounts_alembic_version"

# How many characters every column of ours that holds an account id keeps (`String` of this
# length in each table; the migrations created them so). An id longer than this cannot be
# kept exactly: the request path refuses one the request supplies (`decide/ids.py` `keeps`),
# and the writers bound one only an app's answer names (`db/bulk_insert.bounded`).
ACCOUNT_ID_LENGTH = 255

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
