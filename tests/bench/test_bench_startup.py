"""The start-up benchmark's generated policy is a real one: it loads, extends the baseline,
and uses every action and every kind of target source."""

from __future__ import annotations

from pathlib import Path

import yaml

from bench import bench_startup
from safe_accounts.policy.model import Action


def test_the_generated_policy_compiles_to_200_routes_over_every_action(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(bench_startup.generated_policy(), sort_keys=False))
    compiled = bench_startup.load_and_compile(path)
    assert len(compiled.routes) == bench_startup.ROUTES
    assert {r.action for r in compiled.routes} == set(Action) - {Action.CONTACT_RESPONSE}
    assert compiled.rules[Action.DIRECT_MESSAGE].rules  # the baseline's rules came along


def test_the_generated_routes_use_every_target_source() -> None:
    routes = bench_startup.generated_policy()["routes"]
    assert isinstance(routes, list)
    sources = {key for route in routes for target in route.get("targets", []) for key in target}
    assert sources - {"params"} == {"path", "query", "json", "form", "sql"}


def test_the_demo_policy_compiles_with_a_stand_in_key_and_leaves_the_environment_alone() -> None:
    import os

    before = os.environ.get(bench_startup.DEMO_SECRET)
    with bench_startup.demo_secret():
        assert bench_startup.load_and_compile(bench_startup.DEMO_POLICY).routes
    assert os.environ.get(bench_startup.DEMO_SECRET) == before
