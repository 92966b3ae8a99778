"""`relationships.adult_connections` (the host's query for the percentage of an account's
connections who are adults, called with :account, :adult_born_by and :now) and the count
signals' `where: {subject_adult_connections: ...}`."""

from __future__ import annotations

from pathlib import Path

import pytest

from safe_accounts.errors import PolicyError
from safe_accounts.policy import load_policy
from safe_accounts.relations.adult_connections import AdultConnections
from safe_accounts.signals import SignalPlan

LOOKUP = """
relationships:
  adult_connections:
    sql: SELECT share FROM circles WHERE account_id = :account AND born_by = :adult_born_by
"""

SIGNAL = """
signals:
  counts:
    - id: adult-circle
      event: contact_request
      where: {subject_band: [minor], other_band: [minor], subject_adult_connections: {min: 60}}
      window: 7d
      count: distinct_others
      threshold: 2
      reason: a teen account with a mostly adult circle
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text("version: 1\nname: t\n" + text, encoding="utf-8")
    return path


def test_a_signal_counts_only_subjects_whose_circle_is_in_range(tmp_path: Path) -> None:
    loaded = load_policy(write(tmp_path, LOOKUP + SIGNAL))
    (spec,) = SignalPlan.compile(loaded.policy.signals).counts
    assert (spec.adults_min, spec.adults_max) == (60, None)


def test_without_a_signal_that_asks_nothing_is_queried(tmp_path: Path) -> None:
    assert AdultConnections.wanted(load_policy(write(tmp_path, LOOKUP)).policy, None, unknown_is_minor=True) is None
    disabled = SIGNAL.replace("threshold: 2", "threshold: 2\n      enabled: false")
    policy = load_policy(write(tmp_path, LOOKUP + disabled)).policy
    assert AdultConnections.wanted(policy, None, unknown_is_minor=True) is None


def test_the_condition_without_the_lookup_is_refused_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"policy.yaml:8.*needs the `relationships.adult_connections` lookup"):
        load_policy(write(tmp_path, SIGNAL))


def test_a_lookup_with_another_parameter_is_refused_by_name(tmp_path: Path) -> None:
    bad = LOOKUP.replace(":adult_born_by", ":target")
    with pytest.raises(
        PolicyError,
        match=r"query uses :target, but `adult_connections` is called with :account and :adult_born_by and :now",
    ):
        load_policy(write(tmp_path, bad + SIGNAL))


def test_a_lookup_that_does_not_name_the_account_is_refused_with_its_line(tmp_path: Path) -> None:
    bad = LOOKUP.replace("account_id = :account AND ", "")
    with pytest.raises(PolicyError, match=r"policy.yaml:6.*must use :account \(the account whose connections"):
        load_policy(write(tmp_path, bad + SIGNAL))


@pytest.mark.parametrize("written", ["{min: 101}", "{max: 150}", "{min: -1}", "{min: sixty}"])
def test_the_share_is_a_percentage(tmp_path: Path, written: str) -> None:
    bad = SIGNAL.replace("{min: 60}", written)
    with pytest.raises(PolicyError, match=r"policy.yaml:\d+.*subject_adult_connections"):
        load_policy(write(tmp_path, LOOKUP + bad))


def test_a_range_nothing_can_match_is_refused(tmp_path: Path) -> None:
    bad = SIGNAL.replace("{min: 60}", "{min: 80, max: 60}")
    with pytest.raises(PolicyError, match=r"`min` \(80\) is greater than `max` \(60\).*subject_adult_connections"):
        load_policy(write(tmp_path, LOOKUP + bad))
