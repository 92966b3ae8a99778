"""The contact-request benchmark runs end to end in a tiny configuration (SQLite, the
in-process signal store): each variant is checked to run exactly the lookups it declares and
to answer every request 201 before it is timed. Nothing here asserts a time."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from bench import bench_contact
from bench.bench_realistic import Unexpected

TINY = dataclasses.replace(
    bench_contact.FULL,
    database="sqlite",
    redis=False,
    population=300,
    rounds=1,
    per_round=2,
    warm=3,
    time_budget_ms=2000,
)
_policy = bench_contact.policy  # the module's own, before a test replaces it


def test_a_tiny_run_measures_the_bare_app_and_each_variant(tmp_path: Path) -> None:
    rows = asyncio.run(bench_contact.measure_with(TINY, tmp_path))
    assert [r.what.rsplit(": ", 1)[1] for r in rows] == [
        "bare app (one SELECT)",
        *(v.what for v in bench_contact.VARIANTS),
    ]
    assert all(r.section == bench_contact.SECTION and r.what.startswith("SQLite, in-process store: ") for r in rows)
    assert all("middleware CPU" in r.figure and "ratio" in r.figure for r in rows[1:])


def test_each_variants_policy_declares_what_it_says(tmp_path: Path) -> None:
    without, capped, context = (bench_contact.policy(v, 250) for v in bench_contact.VARIANTS)
    assert "stranger-request-cap, enabled: false" in without and "community_ties" not in without
    assert "stranger-request-cap" not in capped and "community_ties" not in capped
    assert "community_ties:" in context and "vouched:" in context and "staff_vouches" in context


def test_a_variant_that_does_not_run_what_it_declares_fails_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The network-context variant written without its lookups: the check says so.
    plain = bench_contact.VARIANTS[1]
    monkeypatch.setattr(bench_contact, "VARIANTS", (plain, plain._replace(network_context=True)))
    monkeypatch.setattr(bench_contact, "policy", lambda variant, budget: _policy(plain, budget))
    with pytest.raises(Unexpected, match="community_ties and vouched lookups"):
        asyncio.run(bench_contact.measure_with(TINY, tmp_path))
