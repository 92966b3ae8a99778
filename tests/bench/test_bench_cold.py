"""The cold-cache benchmark times a DM the middleware allows, with and without the app's
work between requests, and reports the middleware's time apart from the app's own."""

from __future__ import annotations

import re

import pytest

from bench import bench_cold

TINY = bench_cold.Config(evictions=(0, 10), table=1_000, rounds=1, per_round=2)


@pytest.mark.asyncio
async def test_each_condition_is_one_row_with_the_middlewares_and_the_apps_own_time() -> None:
    rows = await bench_cold.measure(TINY)
    assert [row.what for row in rows] == [
        "allowed DM, adult to adult, tight loop",
        "allowed DM, adult to adult, after 10 random reads of a 1,000-entry table",
    ]
    for row in rows:
        assert row.section == "cold"
        assert re.fullmatch(
            r"middleware on the request path -?\d+\.\d µs; the app's own time \d+\.\d µs bare, \d+\.\d µs wrapped",
            row.figure,
        ), row.figure


def test_the_evictor_reads_as_many_distinct_entries_as_asked() -> None:
    evictor = bench_cold.Evictor(100)
    assert evictor.read(100) == sum(range(100))  # every entry once: a sample, not a draw
