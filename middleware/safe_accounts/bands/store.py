"""Where bands are read from (and, for our own table, written to).

Two sources keep one contract, `BandStore`: our own table (the default), or a table the
host app already has with a birth date in it. A lookup of many accounts is one SQL
round trip (chunked only for very large inputs), so a search page of 50 accounts costs
one query, not 50.
"""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import (
    Integer,
    String,
    Uuid,
    any_,
    bindparam,
    cast,
    column,
    inspect,
    select,
    type_coerce,
)
from sqlalchemy import table as sql_table
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from ..clock import SYSTEM_CLOCK, Clock
from ..db.pool import connection
from ..errors import ConfigurationError, InvalidBand, storage_errors
from ..policy.model import HostBands, OwnBands
from .age import AgeBand, Assurance, BandRecord, band_on
from .table import age_bands

# Bound parameters per query: far below SQLite's and asyncpg's limits, and large
# enough that a page of results is always a single round trip.
FETCH_CHUNK = 500


class BandStore(Protocol):
    # True when the store holds a row for every account the app has (the app's own users
    # table): an id it has no row of is no account. Our own table holds only the bands
    # someone recorded, so an id missing there may still be an account of unknown age.
    knows_every_account: bool

    async def fetch(self, ids: Sequence[str]) -> dict[str, BandRecord]:
        """The records of those of `ids` that have one, bands as of today."""

    async def put(self, records: Sequence[BandRecord]) -> None:
        """Insert or replace `records`, all in one transaction."""


def _chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), FETCH_CHUNK):
        yield unique[start : start + FETCH_CHUNK]


def _as_of(record: BandRecord, today: date) -> BandRecord:
    """`record` with its band moved on to `today`, and no birth date once an adult."""
    if record.birth_date is None:
        return record
    band = band_on(record.birth_date, today)
    if band is record.band and band.is_minor:
        return record
    birth = record.birth_date if band.is_minor else None
    return BandRecord(
        record.account_id, band, record.assurance, record.source, birth, record.changed_at
    )


class OwnBandStore:
    """Our table, `safe_accounts_age_bands`: written by `BandDirectory.set` and the CLI."""

    knows_every_account = False

    def __init__(self, engine: AsyncEngine, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._engine = engine
        # Reads need no transaction: without one a lookup is the query alone, with no
        # BEGIN and ROLLBACK round trips around it.
        self._reader = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._clock = clock
        self._upsert = _upsert_statement(engine.dialect.name)
        self._select = _select_statement(engine.dialect.name)

    async def fetch(self, ids: Sequence[str]) -> dict[str, BandRecord]:
        today = self._clock.today()
        found: dict[str, BandRecord] = {}
        with storage_errors("reading age bands"):
            async with connection(self._reader, "bands") as conn:
                for chunk in _chunks(ids):
                    rows = await conn.execute(self._select, {"ids": chunk})
                    for row in rows:
                        record = BandRecord(
                            row.account_id,
                            AgeBand(row.band),
                            Assurance(row.assurance),
                            # A handful of distinct sources: one string each, not one per
                            # cached record (100,000 cached bands would hold 5 MB of copies).
                            sys.intern(row.source),
                            row.birth_date,
                            row.changed_at,
                        )
                        found[row.account_id] = _as_of(record, today)
        return found

    async def put(self, records: Sequence[BandRecord]) -> None:
        # The last record of an account wins; PostgreSQL refuses to upsert one row twice
        # in a single statement.
        latest = {r.account_id: r for r in records}
        if not latest:
            return
        now = self._clock.now()
        rows = [
            {
                "account_id": r.account_id,
                "band": r.band.value,
                "assurance": r.assurance.value,
                "source": r.source,
                "birth_date": r.birth_date,
                "changed_at": now if r.changed_at is None else r.changed_at,
            }
            for r in latest.values()
        ]
        with storage_errors("writing age bands"):
            async with self._engine.begin() as conn:
                await conn.execute(self._upsert, rows)


def _select_statement(dialect: str) -> Any:
    """The lookup, built once. PostgreSQL takes the ids as one array parameter: one
    prepared statement for any number of ids, instead of one per count of `IN` values."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        ids = bindparam("ids", type_=ARRAY(String))
        return select(age_bands).where(age_bands.c.account_id == any_(ids))
    return select(age_bands).where(age_bands.c.account_id.in_(bindparam("ids", expanding=True)))


def _upsert_statement(dialect: str) -> Any:
    insert: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise ConfigurationError(
            f"database {dialect!r} is not supported (use sqlite or postgresql)"
        )
    stmt = insert(age_bands)
    updated = {c.name: stmt.excluded[c.name] for c in age_bands.columns if c.name != "account_id"}
    return stmt.on_conflict_do_update(index_elements=[age_bands.c.account_id], set_=updated)


# SQL identifiers as PostgreSQL and SQLite both take them unquoted; anything else is
# refused rather than escaped, since these names come from a configuration file.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def _identifier(value: str, what: str) -> str:
    if not _IDENTIFIER.fullmatch(value):
        raise ConfigurationError(
            f"bands.store.{what} {value!r} is not a plain SQL identifier "
            "(letters, digits and _, not starting with a digit, at most 63 characters)"
        )
    return value


class HostBandStore:
    """A table of the host app that already holds each account's birth date.

    Read-only: the band is computed from the host's column on every read, so it moves
    on by itself. Ids are matched as text (the id column read back as text must equal
    the account id), so integer, UUID and string ids all fit; integer, UUID and string
    columns are compared in their own type, so that the column's index is used.
    """

    knows_every_account = True

    def __init__(
        self,
        engine: AsyncEngine,
        table: str,
        id_column: str,
        birth_date_column: str,
        assurance: Assurance | str = Assurance.SELF_DECLARED,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        schema, _, name = table.rpartition(".")
        self._schema = _identifier(schema, "table") if schema else None
        self._name = _identifier(name, "table")
        self._id_name = _identifier(id_column, "id_column")
        self._birth_name = _identifier(birth_date_column, "birth_date_column")
        self._table = sql_table(
            self._name, column(self._id_name), column(self._birth_name), schema=self._schema
        )
        self._assurance = Assurance.parse(str(assurance))
        self.source = f"host:{table}"[:64]
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._clock = clock
        self._id_kind: str | None = None  # learnt from the table itself on first use

    async def put(self, records: Sequence[BandRecord]) -> None:
        raise ConfigurationError(
            f"age bands come from the host's column {self.source[5:]}.{self._birth_name}: "
            "change the birth date there (bands.store.source is `host`)"
        )

    async def fetch(self, ids: Sequence[str]) -> dict[str, BandRecord]:
        today = self._clock.today()
        found: dict[str, BandRecord] = {}
        with storage_errors(f"reading birth dates from {self.source[5:]}"):
            async with connection(self._engine, "bands") as conn:
                if self._id_kind is None:
                    self._id_kind = await conn.run_sync(self._inspect)
                id_col = self._table.c[self._id_name]
                key = cast(id_col, String).label("account_id")
                for chunk in _chunks(ids):
                    match = self._match(id_col, chunk)
                    if match is None:
                        continue
                    rows = await conn.execute(
                        select(key, self._table.c[self._birth_name]).where(match)
                    )
                    for account_id, born in rows:
                        found[account_id] = self._record(account_id, born, today)
        return found

    def _inspect(self, sync_conn: Any, /) -> str:
        """What the id column holds: `integer`, `uuid`, `text` or `other` (compared as text)."""
        try:
            columns = {
                c["name"]: c
                for c in inspect(sync_conn).get_columns(self._name, schema=self._schema)
            }
        except SQLAlchemyError as exc:
            raise ConfigurationError(
                f"bands.store.table {self.source[5:]!r} cannot be read: {exc}"
            ) from exc
        for name, what in ((self._id_name, "id_column"), (self._birth_name, "birth_date_column")):
            if name not in columns:
                raise ConfigurationError(
                    f"bands.store.{what} {name!r} is not a column of {self.source[5:]} "
                    f"(it has: {', '.join(sorted(columns))})"
                )
        id_type = columns[self._id_name]["type"]
        for kind, types in (("integer", Integer), ("uuid", Uuid), ("text", String)):
            if isinstance(id_type, types):
                return kind
        return "other"

    def _match(self, id_col: ColumnElement[Any], chunk: list[str]) -> ColumnElement[bool] | None:
        """`id_col` among `chunk`, compared so that the column's own index serves it.

        Only an id spelt the way the column's value reads back as text can match: "007"
        is not the account 7, and an upper-case UUID is not the lower-case one stored.
        """
        if self._id_kind == "integer":
            numbers = [int(i) for i in chunk if _is_canonical_int(i)]
            return id_col.in_(numbers) if numbers else None
        if self._id_kind == "uuid":
            uuids = [i for i in chunk if _is_canonical_uuid(i)]
            return type_coerce(id_col, Uuid(as_uuid=False)).in_(uuids) if uuids else None
        if self._id_kind == "text":
            return id_col.in_(chunk)
        return cast(id_col, String).in_(chunk)

    def _record(self, account_id: str, born: Any, today: date) -> BandRecord:
        """The row's band; a row without a usable birth date is an account of `unknown`
        band (which policies treat as a minor), not the absence of one."""
        if isinstance(born, datetime):
            born = born.date()
        elif isinstance(born, str):
            try:
                born = date.fromisoformat(born)
            except ValueError:
                return self._unknown_age(account_id)
        if not isinstance(born, date):
            return self._unknown_age(account_id)
        try:
            band = band_on(born, today)
        except InvalidBand:
            return self._unknown_age(account_id)  # a birth date in the future tells us nothing
        return BandRecord(
            account_id, band, self._assurance, self.source, born if band.is_minor else None, None
        )

    def _unknown_age(self, account_id: str) -> BandRecord:
        return BandRecord(account_id, AgeBand.UNKNOWN, Assurance.SELF_DECLARED, self.source)


def _is_canonical_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _is_canonical_int(value: str) -> bool:
    try:
        return str(int(value)) == value
    except ValueError:
        return False


def band_store_for(
    engine: AsyncEngine, config: OwnBands | HostBands, *, clock: Clock = SYSTEM_CLOCK
) -> BandStore:
    """The store a policy's `bands.store` names."""
    if isinstance(config, HostBands):
        return HostBandStore(
            engine,
            config.table,
            config.id_column,
            config.birth_date_column,
            config.assurance,
            clock=clock,
        )
    return OwnBandStore(engine, clock=clock)
