"""Bulk import of bands from CSV: streamed, in batches, each batch all or nothing.

The file is read one row at a time, so a million rows need no more memory than one
batch. A batch holding any bad row is not written at all (a half-written batch would
leave the operator guessing which accounts are protected), and every bad row is
reported with its line number.
"""

from __future__ import annotations

import csv
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import InvalidBand
from .age import AgeBand, Assurance, BandRecord
from .recording import new_record, parse_birth_date
from .store import BandStore

COLUMNS = ("account_id", "birth_date", "band", "assurance")
BATCH_SIZE = 5_000
SOURCE = "import"


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """One batch: its rows' line range, and whether it was written."""

    number: int
    first_line: int
    last_line: int
    rows: int
    written: bool
    problems: tuple[RowProblem, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportSummary:
    rows_written: int
    bad_rows: int
    batches_written: int
    batches_refused: int

    @property
    def ok(self) -> bool:
        return self.bad_rows == 0


class BadHeader(InvalidBand):
    """The CSV's first line is not the expected header: nothing was imported."""


def _header(reader: Iterator[list[str]]) -> dict[str, int]:
    expected = ",".join(COLUMNS)
    try:
        names = [name.strip() for name in next(reader)]
    except StopIteration:
        raise BadHeader(f"the file is empty (expected the header {expected})") from None
    unknown = [n for n in names if n not in COLUMNS]
    if unknown or "account_id" not in names or len(set(names)) != len(names):
        raise BadHeader(
            f"line 1: header {','.join(names)!r} is not {expected} (assurance may be left out)"
        )
    return {name: index for index, name in enumerate(names)}


def _record(row: list[str], columns: dict[str, int], clock: Clock) -> BandRecord:
    if len(row) != len(columns):
        raise InvalidBand(f"{len(row)} fields, the header has {len(columns)}")

    def field(name: str) -> str:
        index = columns.get(name)
        return "" if index is None else row[index].strip()

    account_id = field("account_id")
    if not account_id:
        raise InvalidBand("the account id is missing")
    born, band = field("birth_date"), field("band")
    assurance = field("assurance")
    return new_record(
        account_id,
        band=AgeBand.parse(band) if band else None,
        birth_date=parse_birth_date(born) if born else None,
        assurance=Assurance.parse(assurance) if assurance else Assurance.SELF_DECLARED,
        source=SOURCE,
        clock=clock,
    )


async def import_csv(
    lines: Iterable[str],
    store: BandStore,
    *,
    clock: Clock = SYSTEM_CLOCK,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[BatchOutcome], Awaitable[None]] | None = None,
    on_written: Callable[[Sequence[str]], Awaitable[None]] | None = None,
) -> ImportSummary:
    """Import `lines` (a CSV with a header) into `store`, `batch_size` rows per transaction.

    `on_batch` hears about every batch as it is decided; `on_written` gets the account
    ids of each written batch (to tell other processes' caches).
    """
    reader = csv.reader(lines)
    columns = _header(reader)
    written = bad = batches_written = batches_refused = 0
    number = 0
    records: list[BandRecord] = []
    problems: list[RowProblem] = []
    first_line = 2

    async def finish(last_line: int) -> None:
        nonlocal written, bad, batches_written, batches_refused, number
        number += 1
        rows = len(records) + len(problems)
        if problems:
            bad += len(problems)
            batches_refused += 1
        else:
            await store.put(records)
            written += len(records)
            batches_written += 1
            if on_written is not None:
                await on_written([r.account_id for r in records])
        if on_batch is not None:
            await on_batch(
                BatchOutcome(number, first_line, last_line, rows, not problems, tuple(problems))
            )

    last_line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a NUL byte: that row is bad, reading goes on
            last_line = reader.line_num
            problems.append(RowProblem(last_line, f"not readable as CSV: {exc}"))
            row = None
        if row is not None:
            last_line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # blank lines carry nothing
            try:
                records.append(_record(row, columns, clock))
            except InvalidBand as exc:
                problems.append(RowProblem(last_line, str(exc)))
        if len(records) + len(problems) >= batch_size:
            await finish(last_line)
            records, problems = [], []
            first_line = last_line + 1
    if records or problems:
        await finish(last_line)
    return ImportSummary(written, bad, batches_written, batches_refused)
