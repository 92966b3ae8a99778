"""`safe-accounts bands set | get | import`: our own band table, from the command line.

Every command checks the schema first, so an un-migrated database gets the command
that fixes it instead of an SQL error. With a Redis URL, changes reach every running
process's band cache at once; without one, they arrive when cached entries expire.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ..bands.age import AgeBand, Assurance, BandRecord
from ..bands.directory import BandDirectory
from ..bands.importer import BATCH_SIZE, BatchOutcome, import_csv
from ..bands.recording import account_id_checked, parse_birth_date
from ..bands.store import OwnBandStore
from ..config import channel_prefix
from ..config import redis_prefix as resolve_redis_prefix
from ..config import redis_url as resolve_redis_url
from ..db import migrate
from ..errors import InvalidBand, storage_errors
from ..policy.model import BandCacheSettings
from ._common import database_option, redis_option, redis_prefix_option, run
from ._progress import progress
from ._settings import open_engine

_SETTABLE_BANDS = [b.value for b in AgeBand if b is not AgeBand.UNKNOWN]
_ASSURANCES = [a.value for a in Assurance]


@asynccontextmanager
async def _directory(
    database_url: str | None, redis_url: str | None, redis_prefix: str | None = None
) -> AsyncIterator[BandDirectory]:
    """A directory on our table, after checking the schema; publishing when Redis is given."""
    engine = open_engine(database_url)
    redis = None
    try:
        with storage_errors("using the database"):
            await migrate.check_schema(engine)
        url = resolve_redis_url(redis_url)
        channels = channel_prefix(resolve_redis_prefix(redis_prefix), url)
        if url is not None:
            import redis.asyncio as aioredis

            redis = aioredis.Redis.from_url(url, socket_connect_timeout=2)
        yield BandDirectory(
            OwnBandStore(engine), cache=BandCacheSettings(), redis=redis, channel_prefix=channels
        )
    finally:
        if redis is not None:
            await redis.aclose()
        await engine.dispose()


def _changed(record: BandRecord) -> str:
    if record.changed_at is None:
        return "-"
    return datetime.fromtimestamp(record.changed_at, UTC).isoformat(timespec="seconds")


def _as_json(record: BandRecord) -> dict[str, Any]:
    return {
        "account_id": record.account_id,
        "band": record.band.value,
        "assurance": record.assurance.value,
        "source": record.source,
        "changed_at": _changed(record) if record.changed_at is not None else None,
    }


def _describe(record: BandRecord) -> str:
    return (
        f"{record.account_id}: band {record.band.value}, assurance {record.assurance.value}, "
        f"source {record.source}, changed {_changed(record)}"
    )


@click.group("bands")
def command() -> None:
    """Age bands in our own table: set one, read one, import many."""


@command.command("set")
@database_option
@redis_option
@redis_prefix_option
@click.argument("account")
@click.option(
    "--birthdate", "birthdate", metavar="YYYY-MM-DD", help="The band follows the birth date."
)
@click.option("--band", type=click.Choice(_SETTABLE_BANDS), help="A band without a birth date.")
@click.option(
    "--assurance", type=click.Choice(_ASSURANCES), default="self_declared", show_default=True
)
def set_(
    database_url: str | None,
    redis_url: str | None,
    redis_prefix: str | None,
    account: str,
    birthdate: str | None,
    band: str | None,
    assurance: str,
) -> None:
    """Record ACCOUNT's band, from --birthdate or --band (exactly one)."""
    if (birthdate is None) == (band is None):
        raise click.UsageError("give exactly one of --birthdate or --band")
    account_id_checked(account)
    born = parse_birth_date(birthdate) if birthdate is not None else None

    async def go() -> BandRecord:
        async with _directory(database_url, redis_url, redis_prefix) as directory:
            return await directory.set(
                account,
                band=AgeBand(band) if band else None,
                birth_date=born,
                assurance=Assurance(assurance),
                source="cli",
            )

    click.echo(_describe(run(go)))


@command.command("get")
@database_option
@click.argument("account")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of a line of text.")
def get(database_url: str | None, account: str, as_json: bool) -> None:
    """Print ACCOUNT's band, assurance, source and when it changed (`unknown` when none)."""

    async def go() -> BandRecord:
        async with _directory(database_url, None) as directory:
            return await directory.get(account)

    record = run(go)
    click.echo(json.dumps(_as_json(record)) if as_json else _describe(record))


@command.command("import")
@database_option
@redis_option
@redis_prefix_option
@click.argument(
    "file", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path)
)
@click.option("--batch-size", type=click.IntRange(1, 50_000), default=BATCH_SIZE, show_default=True)
def import_(
    database_url: str | None, redis_url: str | None, redis_prefix: str | None, file: Path, batch_size: int
) -> None:
    """Import FILE.csv (header account_id,birth_date,band,assurance; `-` reads stdin).

    Each row gives a birth date or a band. Rows are written in batches, each in one
    transaction; a batch with any bad row is not written at all. Exit code 1 when any
    row was bad.
    """

    async def report(batch: BatchOutcome) -> None:
        bar.advance(batch.rows)
        where = f"batch {batch.number} (lines {batch.first_line}-{batch.last_line})"
        if batch.written:
            if not bar.shown:  # on a terminal the bar says it
                click.echo(f"{where}: written, {batch.rows} rows")
            return
        click.echo(
            f"{where}: NOT written, {len(batch.problems)} bad of {batch.rows} rows", err=True
        )
        for problem in batch.problems:
            click.echo(f"  {problem}", err=True)

    async def go() -> Any:
        async with _directory(database_url, redis_url, redis_prefix) as directory:
            with _open(file) as lines:
                return await import_csv(
                    lines,
                    directory.store,
                    batch_size=batch_size,
                    on_batch=report,
                    on_written=directory.forget,
                )

    with progress("importing", _rows_in(file)) as bar:
        summary = run(go)
    click.echo(
        f"{summary.rows_written} rows written in {summary.batches_written} batches; "
        f"{summary.batches_refused} batches not written ({summary.bad_rows} bad rows)"
    )
    if not summary.ok:
        sys.exit(1)


def _rows_in(path: Path) -> int:
    """About how many rows FILE holds (its lines less the header), for the progress bar;
    0 (no bar) for standard input, which cannot be read twice."""
    if str(path) == "-":
        return 0
    with open(path, "rb") as handle:
        return max(sum(1 for _ in handle) - 1, 0)


class _open:  # noqa: N801 - used as `with _open(file) as lines:`, like the built-in
    """FILE (or stdin) as decoded lines for the csv module, read as bytes so that a line
    that is not UTF-8 is named by its number."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._handle: Any = None

    def __enter__(self) -> Iterator[str]:
        if str(self._path) == "-":
            return _decoded(sys.stdin.buffer, "stdin")
        self._handle = open(self._path, "rb")
        return _decoded(self._handle, str(self._path))

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.close()


def _decoded(handle: Any, name: str) -> Iterator[str]:
    for number, raw in enumerate(handle, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise InvalidBand(f"{name}: line {number} is not UTF-8 text") from None


__all__ = ["command"]
