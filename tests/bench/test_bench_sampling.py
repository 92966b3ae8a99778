"""The sampling benchmark runs end to end in a tiny configuration on SQLite, checking before
it times anything that each wrapped app answers the profile whole and logs every view, a
tenth of them or none. Nothing here asserts a time."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from bench import bench_sampling
from bench.bench_realistic import Unexpected
from bench.bench_sampling import Settings

TINY = Settings(
    dataclasses.replace(bench_sampling.FULL.config, page=8, rounds=1, per_round=2, warm=1, time_budget_ms=2000),
    checked_views=40,
)


def test_a_tiny_run_on_sqlite_measures_each_policy_and_the_saving(tmp_path: Path) -> None:
    rows = asyncio.run(bench_sampling.measure_in_process("sqlite", TINY, tmp_path))
    assert [r.what.split(", ", 1)[1] for r in rows[:3]] == [what for what, _, _ in bench_sampling.VARIANTS]
    assert all(r.section == bench_sampling.SECTION and r.what.startswith("SQLite: ") for r in rows)
    assert all("middleware CPU" in r.figure for r in rows[:3])
    assert rows[3].what == "SQLite: what logging a tenth saves per view"
    assert "a logged view costs over an unlogged one" in rows[3].figure


def test_a_policy_that_logs_more_than_it_says_fails_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The sampled variant's policy without its `log`: every view is written, and the check says so.
    every = bench_sampling.VARIANTS[1][1]
    monkeypatch.setattr(bench_sampling, "VARIANTS", (*bench_sampling.VARIANTS[:2], ("a tenth?", every, 0.1)))
    with pytest.raises(Unexpected, match="40 of 40 views logged, not about 10%"):
        asyncio.run(bench_sampling.measure_in_process("sqlite", TINY, tmp_path))
