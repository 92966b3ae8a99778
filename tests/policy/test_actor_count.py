"""`actor_count`: a rule on the actor's count under a count signal of the policy, which must
be one the policy counts; `alert: false` signals; `where: {refused: ...}`."""

from __future__ import annotations

from pathlib import Path

import pytest

from safe_accounts.errors import PolicyError
from safe_accounts.policy import load_policy
from safe_accounts.signals import SignalPlan

CAP_RULE = """
rules:
  - id: cap
    action: contact_request
    when: {mutual_connections: {max: 0}, actor_count: {signal: counted, min: 3}}
    then: deny
    reason: Try again tomorrow.
"""

COUNTED = """
signals:
  counts:
    - id: counted
      event: contact_request
      where: {other_band: [minor], refused: false}
      window: 24h
      count: distinct_others
      alert: false
      reason: requests that reached minors
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text("version: 1\nname: t\n" + text, encoding="utf-8")
    return path


def test_a_rule_on_a_counted_signal_loads_and_the_signal_never_alerts(tmp_path: Path) -> None:
    loaded = load_policy(write(tmp_path, CAP_RULE + COUNTED))
    (rule,) = loaded.policy.rules
    assert rule.when.actor_count is not None and rule.when.actor_count.min == 3
    (spec,) = SignalPlan.compile(loaded.policy.signals).counts
    assert not spec.alerts and spec.refused is False


def test_a_rule_on_a_signal_the_policy_does_not_count_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not an enabled count signal"):
        load_policy(write(tmp_path, CAP_RULE))


def test_a_rule_on_a_switched_off_signal_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not an enabled count signal"):
        load_policy(write(tmp_path, CAP_RULE + COUNTED + "      enabled: false\n"))


def test_a_count_of_zero_is_no_condition(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="actor_count"):
        load_policy(write(tmp_path, CAP_RULE.replace("min: 3", "min: 0") + COUNTED))


def test_the_shipped_baseline_caps_requests_to_strangers_on_a_counted_signal() -> None:
    baseline = load_policy(Path(__file__).resolve().parents[2] / "policies" / "baseline.yaml").policy
    (cap,) = [rule for rule in baseline.rules if rule.id == "stranger-request-cap"]
    assert cap.when.target_band is None  # refused whoever the target is: nothing said of age
    assert cap.when.actor_count is not None
    (counted,) = [s for s in baseline.signals.counts if s.id == cap.when.actor_count.signal]
    assert counted.alert is False and counted.where.refused is False
