"""The cold-worker benchmark runs end to end in a tiny configuration: both ways of fetching
answer a small burst, and the gathered one asks fewer queries than there are misses. Nothing
here asserts a time."""

from __future__ import annotations

import dataclasses

from bench import bench_cold_worker

# Every miss at once: spread over time (as the benchmark spreads them), a fast machine can
# answer each miss before the next arrives and then nothing gathers, which would make this
# test depend on the machine's speed (a fresh-clone run failed on "40 < 40").
TINY = dataclasses.replace(
    bench_cold_worker.FULL,
    misses=40,
    arriving_over_s=0.0,
    rounds=1,
    budget_s=5.0,
    database="safe_accounts_bench_cold_tiny",
)


async def test_a_tiny_run_reports_both_ways_of_fetching() -> None:
    each, shipped = await bench_cold_worker.measure(TINY)
    assert each.what.endswith("a fetch per miss (before)")
    assert "40 of 40 answered" in each.figure and "40 queries" in each.figure
    assert "40 of 40 answered" in shipped.figure
    queries = int(shipped.figure.rsplit("; ", 1)[1].split()[0])
    assert queries < 40
