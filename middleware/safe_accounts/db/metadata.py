"""The one `MetaData` all our tables hang on. Every table name starts `safe_accounts_`
so that we live beside the host app's tables without touching them."""

from sqlalchemy import MetaData

TABLE_PREFIX = "safe_accounts_"
VERSION_TABLE = "safe_accounts_alembic_version"

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
