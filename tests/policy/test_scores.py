"""`signals.scores`: a risk score per account over count and rate signals, each with a weight.
Every bad input is refused with its file, line and reason; an app's policy changes a base's
score by id, and one weight by its part's signal."""

from __future__ import annotations

from pathlib import Path

import pytest

from safe_accounts.errors import PolicyError
from safe_accounts.policy import load_policy
from safe_accounts.signals import SignalPlan

SIGNALS = """
signals:
  counts:
    - id: rejections
      event: contact_rejected
      where: {other_band: [minor]}
      window: 7d
      alert: false
      reason: rejected by minors
    - id: requests
      event: contact_request
      where: {other_band: [minor]}
      window: 7d
      alert: false
      reason: requests to minors
    - id: blocks
      event: blocked
      window: 30d
      threshold: 3
      reason: blocked by minors
  rates:
    - id: rejection-rate
      numerator: rejections
      denominator: requests
      min_denominator: 4
      threshold: 0.5
      reason: most requests rejected
  scores:
    - id: grooming-risk
      threshold: 1.0
      reason: weak signals together
      escalate: {restrict: true}
      parts:
        - {signal: rejections, weight: 0.25}
        - {signal: rejection-rate, weight: 0.5}
        - {signal: blocks, weight: 0.3}
"""


def write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text("version: 1\nname: t\n" + text, encoding="utf-8")
    return path


def test_a_score_compiles_with_its_parts_their_weights_and_its_longest_window(tmp_path: Path) -> None:
    (score,) = SignalPlan.compile(load_policy(write(tmp_path, SIGNALS)).policy.signals).scores
    assert (score.id, score.threshold, score.restrict) == ("grooming-risk", 1.0, True)
    assert [(p.signal, p.weight) for p in score.parts] == [
        ("rejections", 0.25),
        ("rejection-rate", 0.5),
        ("blocks", 0.3),
    ]
    assert score.window == 30 * 86400
    assert score.counts == {"rejections", "requests", "blocks"}


def test_a_part_naming_no_signal_is_refused_with_its_line(tmp_path: Path) -> None:
    bad = SIGNALS.replace("{signal: blocks,", "{signal: blokcs,")
    with pytest.raises(
        PolicyError, match=r"policy.yaml:38: `signal` names `blokcs`, which is not a count or rate signal \(known:"
    ):
        load_policy(write(tmp_path, bad))


def test_a_negative_weight_is_refused_with_its_line(tmp_path: Path) -> None:
    bad = SIGNALS.replace("weight: 0.3", "weight: -0.3")
    with pytest.raises(PolicyError, match=r"policy.yaml:38: `weight` must be at least 0"):
        load_policy(write(tmp_path, bad))


def test_a_score_without_parts_is_refused(tmp_path: Path) -> None:
    bad = SIGNALS.split("      parts:")[0] + "      parts: []\n"
    with pytest.raises(PolicyError, match=r"policy.yaml:35: `parts` needs at least 1 entry"):
        load_policy(write(tmp_path, bad))


def test_a_score_whose_every_weight_is_zero_is_refused(tmp_path: Path) -> None:
    bad = (
        SIGNALS.replace("weight: 0.25", "weight: 0")
        .replace("weight: 0.5", "weight: 0")
        .replace("weight: 0.3", "weight: 0")
    )
    with pytest.raises(PolicyError, match=r"policy.yaml:\d+.*every part has weight 0"):
        load_policy(write(tmp_path, bad))


def test_a_threshold_of_zero_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"policy.yaml:32: `threshold` must be more than 0"):
        load_policy(write(tmp_path, SIGNALS.replace("threshold: 1.0", "threshold: 0")))


def test_a_score_named_like_a_signal_is_refused_at_both_places(tmp_path: Path) -> None:
    bad = SIGNALS.replace("- id: grooming-risk", "- id: blocks")
    with pytest.raises(PolicyError, match=r"policy.yaml:31: duplicate signal id `blocks` \(also at .*policy.yaml:18\)"):
        load_policy(write(tmp_path, bad))


def test_a_signal_given_two_weights_is_refused(tmp_path: Path) -> None:
    bad = SIGNALS.replace("{signal: blocks, weight: 0.3}", "{signal: rejections, weight: 0.3}")
    with pytest.raises(PolicyError, match=r"policy.yaml:38: `rejections` is already a part of this score"):
        load_policy(write(tmp_path, bad))


def test_a_part_reading_a_disabled_signal_is_refused(tmp_path: Path) -> None:
    bad = SIGNALS.replace("reason: blocked by minors", "reason: blocked by minors\n      enabled: false")
    with pytest.raises(PolicyError, match=r"policy.yaml:39: `blocks` is disabled"):
        load_policy(write(tmp_path, bad))


def test_a_disabled_score_may_read_disabled_signals_and_is_not_evaluated(tmp_path: Path) -> None:
    text = SIGNALS.replace("reason: blocked by minors", "reason: blocked by minors\n      enabled: false").replace(
        "reason: weak signals together", "reason: weak signals together\n      enabled: false"
    )
    assert SignalPlan.compile(load_policy(write(tmp_path, text)).policy.signals).scores == ()


def test_an_app_changes_a_bases_threshold_and_one_weight_and_drops_a_part(tmp_path: Path) -> None:
    write(tmp_path, SIGNALS, "base.yaml")
    app = write(
        tmp_path,
        """extends: base.yaml
signals:
  scores:
    - id: grooming-risk
      threshold: 1.5
      parts:
        - {signal: rejections, weight: 0.4}
        - {signal: blocks, weight: 0}
""",
    )
    (score,) = SignalPlan.compile(load_policy(app).policy.signals).scores
    assert score.threshold == 1.5 and score.reason == "weak signals together"
    assert [(p.signal, p.weight) for p in score.parts] == [("rejections", 0.4), ("rejection-rate", 0.5)]


def test_an_app_may_turn_a_bases_part_off_with_its_signal(tmp_path: Path) -> None:
    write(tmp_path, SIGNALS, "base.yaml")
    app = write(
        tmp_path,
        """extends: base.yaml
signals:
  counts:
    - {id: blocks, enabled: false}
  scores:
    - id: grooming-risk
      parts: [{signal: blocks, weight: 0}]
""",
    )
    (score,) = SignalPlan.compile(load_policy(app).policy.signals).scores
    assert [p.signal for p in score.parts] == ["rejections", "rejection-rate"]


def test_an_app_disables_a_bases_score(tmp_path: Path) -> None:
    write(tmp_path, SIGNALS, "base.yaml")
    app = write(tmp_path, "extends: base.yaml\nsignals:\n  scores:\n    - {id: grooming-risk, enabled: false}\n")
    assert SignalPlan.compile(load_policy(app).policy.signals).scores == ()
