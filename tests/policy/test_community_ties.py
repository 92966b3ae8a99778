"""`relationships.community_ties` (the host's query for network context, called with :actor,
:target and :now) and the count signals' `where: {community_ties: ..., subject_band: ...}`."""

from __future__ import annotations

from pathlib import Path

import pytest

from safe_accounts.bands.age import AgeBand
from safe_accounts.errors import PolicyError
from safe_accounts.policy import load_policy
from safe_accounts.relations.ties import CommunityTies
from safe_accounts.signals import SignalPlan

TIES = """
relationships:
  community_ties:
    sql: SELECT COUNT(*) FROM circle WHERE actor = :actor AND child = :target AND since < :now
"""

SCATTERED = """
signals:
  counts:
    - id: scattered
      event: contact_rejected
      where: {other_band: [minor], community_ties: {max: 0}, subject_band: [adult]}
      window: 14d
      threshold: 2
      reason: rejections from outside the circle
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text("version: 1\nname: t\n" + text, encoding="utf-8")
    return path


def test_a_signal_counts_by_ties_and_the_subjects_band(tmp_path: Path) -> None:
    loaded = load_policy(write(tmp_path, TIES + SCATTERED))
    (spec,) = SignalPlan.compile(loaded.policy.signals).counts
    assert (spec.ties_min, spec.ties_max) == (None, 0)
    assert spec.subject_bands == frozenset({AgeBand.ADULT})
    assert spec.needs_ties


def test_the_lookup_is_compiled_only_for_the_events_a_signal_counts_by_it(tmp_path: Path) -> None:
    loaded = load_policy(write(tmp_path, TIES + SCATTERED)).policy
    ties = CommunityTies.wanted(loaded, None)
    assert ties is not None and {k.value for k in ties.kinds} == {"contact_rejected"}
    assert CommunityTies.wanted(load_policy(write(tmp_path, TIES)).policy, None) is None


def test_a_signal_by_ties_without_the_lookup_is_refused_at_its_line(tmp_path: Path) -> None:
    # Without the lookup no event has ties: the signal would count nothing, silently.
    with pytest.raises(PolicyError, match=r"policy.yaml:8: `community_ties` needs the `relationships.community_ties`"):
        load_policy(write(tmp_path, SCATTERED))


def test_a_disabled_signal_by_ties_needs_no_lookup_and_nothing_is_queried(tmp_path: Path) -> None:
    disabled = SCATTERED.replace("threshold: 2", "threshold: 2\n      enabled: false")
    assert CommunityTies.wanted(load_policy(write(tmp_path, disabled)).policy, None) is None


def test_a_lookup_with_another_parameter_is_refused_by_name(tmp_path: Path) -> None:
    bad = TIES.replace(":now", ":today")
    with pytest.raises(PolicyError, match=r":today.*:actor and :target and :now"):
        load_policy(write(tmp_path, bad))


def test_a_ties_range_that_cannot_match_is_refused(tmp_path: Path) -> None:
    bad = SCATTERED.replace("community_ties: {max: 0}", "community_ties: {min: 3, max: 1}")
    with pytest.raises(PolicyError, match="greater than `max`"):
        load_policy(write(tmp_path, TIES + bad))
