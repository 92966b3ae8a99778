"""The peer comparison compares like with like: Cedar and Casbin, given the rule as written
in the benchmark, answer every case of the truth table as our compiled baseline does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bench import bench_peers
from safe_accounts.bands.age import AgeBand
from safe_accounts.decide.rules import RuleSet
from safe_accounts.pipeline.compiled import CompiledPolicy
from safe_accounts.policy.loader import load_policy
from safe_accounts.policy.model import Action

BASELINE = Path(__file__).resolve().parents[2] / "policies" / "baseline.yaml"


def baseline_dm_rules() -> RuleSet:
    loaded = load_policy(BASELINE)
    compiled = CompiledPolicy(loaded.policy, loaded.version, identity=False)
    return compiled.rules[Action.DIRECT_MESSAGE]


def test_the_truth_table_covers_every_band_connection_and_restriction() -> None:
    cases = bench_peers.CASES
    assert {c.target_band for c in cases} == set(AgeBand)
    assert {(c.connected, c.restricted) for c in cases} == {
        (False, False), (False, True), (True, False), (True, True)
    }
    assert any(c.expected_allowed for c in cases)
    assert any(not c.expected_allowed for c in cases)


def test_our_baseline_decides_the_truth_table_as_the_rule_says() -> None:
    deciders = bench_peers.check("ours", bench_peers.ours(baseline_dm_rules()))
    assert len(deciders) == len(bench_peers.CASES)


def test_cedar_decides_the_truth_table_as_the_rule_says() -> None:
    pytest.importorskip("cedarpy", reason="cedarpy is a benchmark-only extra")
    bench_peers.check("cedar", bench_peers.cedar(parsed_entities=True))
    bench_peers.check("cedar", bench_peers.cedar(parsed_entities=False))


def test_casbin_decides_the_truth_table_as_the_rule_says(tmp_path: Path) -> None:
    pytest.importorskip("casbin", reason="casbin is a benchmark-only extra")
    bench_peers.check("casbin", bench_peers.casbin_(bench_peers.casbin_enforcer(tmp_path)))


def test_an_engine_that_decides_a_case_wrongly_is_not_measured() -> None:
    def allows_everything(case: bench_peers.Case) -> Callable[[], bool]:
        return lambda: True

    with pytest.raises(AssertionError, match="decides"):
        bench_peers.check("permissive", allows_everything)


async def test_the_middlewares_decide_answers_from_the_caches(tmp_path: Path) -> None:
    middleware, deciders = await bench_peers.cached_path(tmp_path)
    try:
        assert [await decided() for decided in deciders] == [True, False, True]
    finally:
        await middleware.close()
