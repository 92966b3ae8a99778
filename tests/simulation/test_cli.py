"""`safe-accounts simulate`, run as a user runs it: output, JSON, exit codes, messages."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from safe_accounts.cli.simulate import NEEDS_CHECKOUT
from tests.conftest import Ran

Cli = Callable[..., Ran]


@pytest.fixture
def simulate(cli: Cli) -> Cli:
    """`safe-accounts simulate ARGS...`, in this process."""
    return lambda *args: cli("simulate", *args)


@pytest.mark.slow
def test_a_small_run_prints_its_table_and_writes_its_json(simulate: Cli, tmp_path: Path) -> None:
    out = tmp_path / "outcome.json"
    ran = simulate(
        "--accounts", "120", "--days", "2", "--groomers", "3", "--seed", "5", "--out", str(out)
    )
    assert ran.code == 0, ran.err
    assert "precision" in ran.out and "recall" in ran.out and "Protections fired" in ran.out
    data = json.loads(out.read_text())
    assert data["parameters"]["accounts"] == 120 and data["parameters"]["seed"] == 5
    assert data["population"]["accounts"] == 120
    assert set(data["detection"]) >= {"precision", "recall", "hours_from_first_contact_to_alert"}


@pytest.mark.slow
def test_several_seeds_print_each_seeds_figures_and_their_spread(
    simulate: Cli, tmp_path: Path
) -> None:
    out = tmp_path / "seeds.json"
    ran = simulate(
        "--accounts", "120", "--days", "2", "--groomers", "3", "--seeds", "4-5", "--out", str(out)
    )
    assert ran.code == 0, ran.err
    assert "Across 2 seeds" in ran.out and "false alerts per role" in ran.out
    data = json.loads(out.read_text())
    assert [row["seed"] for row in data["summary"]["seeds"]] == [4, 5]
    assert [run["parameters"]["seed"] for run in data["runs"]] == [4, 5]
    recall = data["summary"]["spread"]["recall"]
    values = [row["recall"] for row in data["summary"]["seeds"] if row["recall"] is not None]
    if values:
        assert recall["min"] == min(values) and recall["max"] == max(values)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "1", "--seeds", "1-3"], "give --seed or --seeds, not both"),
        (["--seeds", "one-two"], "is not a seed or a FIRST-LAST range"),
        (["--seeds", "5-2"], "names no seed"),
        (["--accounts", "-5"], "accounts must be positive"),
        (["--days", "0"], "days must be positive"),
        (["--groomers", "-1"], "groomers must be zero or more"),
        (["--mix", "sneaky=1"], "unknown groomer tactic 'sneaky'"),
        (["--mix", "slow=0"], "gives no tactic a positive weight"),
        (["--accounts", "80", "--groomers", "30"], "raise --accounts or lower --groomers"),
        (["--policy", "no-such-policy.yaml"], "does not exist"),
        (["--days", "many"], "is not a valid integer"),
    ],
)
def test_bad_input_exits_non_zero_with_a_message(simulate: Cli, args: list[str], message: str) -> None:
    ran = simulate(*args)
    assert ran.code != 0
    assert message in ran.err
    assert "Traceback" not in ran.err


def test_an_out_file_in_a_missing_folder_is_refused_before_running(
    simulate: Cli, tmp_path: Path
) -> None:
    ran = simulate("--out", str(tmp_path / "missing" / "outcome.json"))
    assert ran.code != 0
    assert "does not exist" in ran.err


def test_a_bad_policy_file_is_reported_with_its_line(simulate: Cli, tmp_path: Path) -> None:
    policy = tmp_path / "broken.yaml"
    policy.write_text("version: 1\nname: broken\nrules: 12\n")
    ran = simulate("--accounts", "100", "--days", "1", "--groomers", "1", "--policy", str(policy))
    assert ran.code == 1
    assert "broken.yaml" in ran.err
    assert "Traceback" not in ran.err


def test_without_the_demo_app_it_says_to_run_from_a_checkout(
    simulate: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An installed wheel has safe_accounts and no demo_app: hide the checkout's.
    for name in [m for m in sys.modules if m == "demo_app" or m.startswith("demo_app.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "demo_app", None)
    ran = simulate("--accounts", "100")
    assert ran.code == 1
    assert NEEDS_CHECKOUT in ran.err


@pytest.mark.slow
def test_vouched_says_so_in_the_table_and_the_json(simulate: Cli, tmp_path: Path) -> None:
    out = tmp_path / "outcome.json"
    ran = simulate(
        "--accounts", "120", "--days", "1", "--groomers", "2", "--vouched", "--out", str(out)
    )
    assert ran.code == 0, ran.err
    assert "teachers, coaches and youth workers vouched for" in ran.out
    assert json.loads(out.read_text())["parameters"]["vouched"] is True
