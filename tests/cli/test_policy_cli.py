"""`safe-accounts policy check FILE...`: one line per good file, every problem of a bad one,
and an exit status a deployment script can rely on."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from safe_accounts.cli import cli
from safe_accounts.policy import load_policy, policy_json_schema

ROOT = Path(__file__).resolve().parents[2]
GOOD = Path("tests/policy/fixtures/good")
BAD = Path("tests/policy/fixtures/bad")


@pytest.fixture(autouse=True)
def _at_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["policy", *args])


def test_a_good_file_is_summarised_with_its_version() -> None:
    result = run("check", str(GOOD / "app.yaml"))

    version = load_policy(GOOD / "app.yaml").version
    assert result.exit_code == 0, result.output
    assert result.output == f"{GOOD / 'app.yaml'}: ok (3 routes, 3 rules, 3 signals, version {version})\n"


def test_a_bad_file_lists_every_problem_as_file_line_reason_and_exits_1() -> None:
    result = run("check", str(BAD / "signals.yaml"))

    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == 6
    assert all(re.match(rf"{re.escape(str(BAD / 'signals.yaml'))}:\d+: .+ \(signals\.\S+\)$", line) for line in lines)
    assert lines[0] == (
        f"{BAD / 'signals.yaml'}:6: `window` must be a whole number and a unit: s, m, h or d "
        "(e.g. 30m, 24h, 7d); got '1w' (signals.counts[0].window)"
    )


def test_several_files_are_each_reported_and_one_bad_file_fails_the_run() -> None:
    result = run("check", str(GOOD / "team.yaml"), str(BAD / "empty.yaml"), str(GOOD / "base.yaml"))

    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{GOOD / 'team.yaml'}: ok (3 routes, 3 rules, 3 signals, version ")
    assert lines[1] == f"{BAD / 'empty.yaml'}:1: the file is empty (expected a mapping with `version: 1`)"
    assert lines[2].startswith(f"{GOOD / 'base.yaml'}: ok (0 routes, 2 rules, 3 signals, version ")


def test_a_missing_file_is_a_problem_not_a_traceback() -> None:
    result = run("check", "no/such/policy.yaml")

    assert result.exit_code == 1
    assert result.output == "no/such/policy.yaml: no such file\n"
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_check_needs_at_least_one_file() -> None:
    assert run("check").exit_code == 2


def test_schema_prints_the_policy_json_schema() -> None:
    result = run("schema")

    assert result.exit_code == 0
    assert json.loads(result.output) == policy_json_schema()


def test_a_file_that_loads_with_notes_lists_them_and_passes(tmp_path: Path) -> None:
    # The baseline's network-context signals read `relationships.community_ties`, which this
    # host does not declare: the file loads, and each inactive signal is named.
    path = tmp_path / "app.yaml"
    path.write_text("version: 1\nname: app\nextends: baseline\n", encoding="utf-8")

    result = run("check", str(path))

    assert result.exit_code == 0, result.output
    first, *notes = result.output.splitlines()
    assert first.startswith(f"{path}: ok (")
    assert notes and all(re.match(r".*baseline\.yaml:\d+: note: (rule|signal) `[^`]+` is ", note) for note in notes)
    assert any("signal `scattered-rejections-by-minors` is inactive" in note for note in notes)
