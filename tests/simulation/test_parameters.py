"""Simulation parameters: what a run may be asked to do, and the message for what it may not."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo_app.simulation import Parameters, SimulationError, Tactic, parse_mix
from demo_app.simulation.parameters import default_policy


def test_a_mix_is_weights_per_tactic_normalised_to_shares() -> None:
    assert parse_mix("aggressive=1, slow=3") == {
        Tactic.AGGRESSIVE: 0.25,
        Tactic.SLOW: 0.75,
        Tactic.SPREAD: 0.0,
        Tactic.PATIENT: 0.0,
        Tactic.VIA_PARENTS: 0.0,
        Tactic.IMPERSONATOR: 0.0,
        Tactic.COACH_PACE: 0.0,
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sneaky=1", "unknown groomer tactic 'sneaky'"),
        ("slow", "is not TACTIC=WEIGHT"),
        ("slow=lots", "is not a number"),
        ("slow=-1", "must be a number >= 0"),
        ("slow=nan", "must be a number >= 0"),
        ("slow=1,slow=2", "appears twice"),
        ("slow=0", "gives no tactic a positive weight"),
        ("", "gives no tactic a positive weight"),
    ],
)
def test_a_bad_mix_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(SimulationError, match=message):
        parse_mix(text)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("accounts", 0, "accounts must be positive"),
        ("accounts", -5, "accounts must be positive"),
        ("days", 0, "days must be positive"),
        ("days", 1000, "days must be at most 365"),
        ("groomers", -1, "groomers must be zero or more"),
        ("seed", -1, "seed must be zero or more"),
        ("accounts", 2.5, "accounts must be a whole number"),
        ("days", True, "days must be a whole number"),
    ],
)
def test_sizes_out_of_range_are_refused(field: str, value: object, message: str) -> None:
    with pytest.raises(SimulationError, match=message):
        Parameters(**{field: value})  # type: ignore[arg-type]


def test_a_missing_policy_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match="does not exist"):
        Parameters(policy=tmp_path / "nope.yaml")


def test_the_default_policy_is_the_demo_policy_or_its_draft() -> None:
    assert default_policy().is_file()
    assert default_policy().name == "demo.yaml"


def test_parameters_as_json_name_the_policy_relative_to_the_repository() -> None:
    shown = Parameters(accounts=100, days=2, seed=4, groomers=1).to_json()
    assert shown["accounts"] == 100 and shown["seed"] == 4
    assert not str(shown["policy"]).startswith("/")
