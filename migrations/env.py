"""Alembic environment for Safe Accounts' own tables.

Run by `safe_accounts.db.migrate`, which hands us a live connection through
`config.attributes`. We never configure logging here: that is the host app's.
"""

from alembic import context

from safe_accounts.db.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "Safe Accounts migrations run through `safe-accounts db upgrade`, not the alembic CLI"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=config.attributes["version_table"],
    # Only our tables: the host's tables in the same database are not ours to diff.
    include_name=lambda name, type_, _parent: type_ != "table" or name.startswith("safe_accounts_"),
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
