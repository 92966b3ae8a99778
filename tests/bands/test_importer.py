"""CSV import: streamed, batch by batch, every bad row named, a bad batch never half-written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.bands.age import AgeBand, Assurance
from safe_accounts.bands.importer import BadHeader, BatchOutcome, import_csv
from safe_accounts.bands.store import OwnBandStore
from safe_accounts.clock import FrozenClock

CLOCK = FrozenClock(datetime(2027, 1, 15, tzinfo=UTC))
HEADER = "account_id,birth_date,band,assurance\n"


def lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


async def run(store: OwnBandStore, text: str, batch_size: int = 3):  # type: ignore[no-untyped-def]
    batches: list[BatchOutcome] = []
    written: list[list[str]] = []

    async def on_batch(batch: BatchOutcome) -> None:
        batches.append(batch)

    async def on_written(ids) -> None:  # type: ignore[no-untyped-def]
        written.append(list(ids))

    summary = await import_csv(
        lines(text),
        store,
        clock=CLOCK,
        batch_size=batch_size,
        on_batch=on_batch,
        on_written=on_written,
    )
    return summary, batches, written


async def test_a_clean_file_is_written_batch_by_batch(engine: AsyncEngine) -> None:
    store = OwnBandStore(engine, clock=CLOCK)
    text = HEADER + "a,2014-02-01,,verified\nb,,adult,\nc,1970-01-01,,\nd,,16_17,estimated\n"
    summary, batches, written = await run(store, text)
    assert summary.ok and summary.rows_written == 4 and summary.batches_written == 2
    assert [(b.number, b.first_line, b.last_line, b.rows, b.written) for b in batches] == [
        (1, 2, 4, 3, True),
        (2, 5, 5, 1, True),
    ]
    assert written == [["a", "b", "c"], ["d"]]
    found = await store.fetch(["a", "b", "c", "d"])
    assert {k: (v.band, v.assurance, v.source) for k, v in found.items()} == {
        "a": (AgeBand.UNDER_13, Assurance.VERIFIED, "import"),
        "b": (AgeBand.ADULT, Assurance.SELF_DECLARED, "import"),
        "c": (AgeBand.ADULT, Assurance.SELF_DECLARED, "import"),
        "d": (AgeBand.B16_17, Assurance.ESTIMATED, "import"),
    }
    assert found["c"].birth_date is None, "an adult's birth date is not kept"


async def test_a_batch_with_a_bad_row_is_not_written_at_all(engine: AsyncEngine) -> None:
    store = OwnBandStore(engine, clock=CLOCK)
    text = (
        HEADER
        + "ok1,,adult,\nok2,,adult,\nbad,2030-01-01,,\nok3,,adult,\nok4,,adult,\nok5,,adult,\n"
    )
    summary, batches, written = await run(store, text)
    assert (
        summary.rows_written,
        summary.bad_rows,
        summary.batches_written,
        summary.batches_refused,
    ) == (3, 1, 1, 1)
    assert not summary.ok
    assert [b.written for b in batches] == [False, True]
    assert [str(p) for p in batches[0].problems] == [
        "line 4: birth date 2030-01-01 is in the future"
    ]
    assert written == [["ok3", "ok4", "ok5"]]
    assert set(await store.fetch(["ok1", "ok2", "bad", "ok3", "ok4", "ok5"])) == {
        "ok3",
        "ok4",
        "ok5",
    }


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("x,,teen,", "unknown age band 'teen'"),
        ("x,,unknown,", "absence of a record"),
        ("x,2031-05-05,,", "in the future"),
        ("x,1850-05-05,,", "before 1900"),
        (",2010-05-05,,", "account id is missing"),
        ("x,05/05/2010,,", "not a date in the form YYYY-MM-DD"),
        ("x,2010-02-30,,", "not a real calendar date"),
        ("x,2010-01-01,13_15,", "both a band and a birth date"),
        ("x,,,", "neither a band nor a birth date"),
        ("x,,adult,certain", "unknown assurance 'certain'"),
        ("x,,adult", "3 fields, the header has 4"),
    ],
)
async def test_every_kind_of_bad_row_is_reported_with_its_line(
    engine: AsyncEngine, row: str, reason: str
) -> None:
    store = OwnBandStore(engine, clock=CLOCK)
    summary, batches, _ = await run(store, HEADER + "fine,,adult,\n" + row + "\n")
    assert summary.bad_rows == 1
    (problem,) = batches[0].problems
    assert problem.line == 3
    assert reason in problem.reason


async def test_line_numbers_count_physical_lines(engine: AsyncEngine) -> None:
    store = OwnBandStore(engine, clock=CLOCK)
    text = HEADER + '"a",,adult,\n\n"quoted\nnewline",,adult,\nlate,2099-01-01,,\n'
    _, batches, _ = await run(store, text, batch_size=10)
    # The quoted id spans lines 4-5 (and a newline is no valid id); blank line 3 is skipped.
    assert [p.line for p in batches[0].problems] == [5, 6]


async def test_the_assurance_column_may_be_left_out(engine: AsyncEngine) -> None:
    store = OwnBandStore(engine, clock=CLOCK)
    summary, _, _ = await run(store, "band,account_id,birth_date\nadult,a,\n")
    assert summary.rows_written == 1


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("id,birth_date,band\n", "header 'id,birth_date,band'"),
        (
            "account_id,birth_date,band,assurance,extra\n",
            "is not account_id,birth_date,band,assurance",
        ),
        ("account_id,account_id,band\n", "is not"),
    ],
)
async def test_a_wrong_header_stops_the_import_before_any_row(
    engine: AsyncEngine, text: str, reason: str
) -> None:
    with pytest.raises(BadHeader, match=reason):
        await run(OwnBandStore(engine, clock=CLOCK), text + "a,,adult,\n")


async def test_an_empty_file_is_refused(engine: AsyncEngine) -> None:
    with pytest.raises(BadHeader, match="the file is empty"):
        await run(OwnBandStore(engine, clock=CLOCK), "")


async def test_the_file_is_read_one_batch_at_a_time(engine: AsyncEngine) -> None:
    """A million rows must not sit in memory: a batch is written before the next is read."""
    consumed = 0

    def endless() -> Iterator[str]:
        nonlocal consumed
        yield HEADER
        for i in range(1_000_000):
            consumed += 1
            yield f"acct-{i},,adult,\n"

    high_water = 0

    async def on_batch(batch: BatchOutcome) -> None:
        nonlocal high_water
        high_water = max(high_water, consumed - batch.number * 100)
        if batch.number == 3:
            raise StopImport

    with pytest.raises(StopImport):
        await import_csv(
            endless(), OwnBandStore(engine, clock=CLOCK), batch_size=100, on_batch=on_batch
        )
    assert consumed == 300
    assert high_water == 0, "no row is read ahead of the batch being written"


class StopImport(Exception):
    pass
