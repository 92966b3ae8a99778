"""`log: {sample: R}` on a rule: only `then: allow` rules of actions that change nothing
(profile views, discovery) may log a share of their decisions; anything else stops start-up
at its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from safe_accounts.decide.rules import compile_rules
from safe_accounts.errors import PolicyError
from safe_accounts.policy import load_policy
from safe_accounts.policy.model import Action

SAMPLED = """\
version: 1
name: t
rules:
  - id: connections-profiles
    action: [profile_view, discovery]
    when: {connected: true}
    then: allow
    reason: A connection's profile, recorded.
    log: {sample: 0.1}
relationships:
  connected: {sql: "SELECT friend_id FROM friendships WHERE user_id = :actor AND friend_id IN :targets"}
"""


def write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_allow_rule_of_profile_views_and_discovery_samples_its_log(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, SAMPLED)).policy
    (rule,) = policy.rules
    assert rule.log is not None and rule.log.sample == 0.1
    compiled = compile_rules(policy)
    assert [r.sample for r in compiled[Action.PROFILE_VIEW].rules] == [0.1]
    assert [r.sample for r in compiled[Action.DISCOVERY].rules] == [0.1]


def test_a_rule_without_log_and_a_sample_of_one_log_every_decision(tmp_path: Path) -> None:
    for text in (SAMPLED.replace("    log: {sample: 0.1}\n", ""), SAMPLED.replace("0.1", "1")):
        (rule,) = compile_rules(load_policy(write(tmp_path, text)).policy)[Action.PROFILE_VIEW].rules
        assert rule.sample is None


@pytest.mark.parametrize(
    ("then", "action"),
    [("deny", "profile_view"), ("hide", "profile_view"), ("redact", "profile_view"), ("filter", "discovery")],
)
def test_a_refusing_or_rewriting_rule_is_refused_at_the_sample_line(tmp_path: Path, then: str, action: str) -> None:
    text = SAMPLED.replace("then: allow", f"then: {then}").replace("[profile_view, discovery]", action)
    with pytest.raises(PolicyError) as caught:
        load_policy(write(tmp_path, text))
    assert str(caught.value).count("policy.yaml:") == 1
    assert f"policy.yaml:9: only `then: allow` rules sample their log; this rule's `{then}` decisions" in str(
        caught.value
    )
    assert "(rules[0].log.sample)" in str(caught.value)


@pytest.mark.parametrize("action", ["direct_message", "contact_request", "contact_response", "report", "block"])
def test_an_action_that_changes_something_is_refused_by_name(tmp_path: Path, action: str) -> None:
    text = SAMPLED.replace("[profile_view, discovery]", f"[profile_view, {action}]")
    with pytest.raises(
        PolicyError,
        match=rf"policy.yaml:9: only the allowed decisions of actions that change nothing \(discovery, "
        rf"profile_view\) may be sampled; this rule is also about {action}",
    ):
        load_policy(write(tmp_path, text))


@pytest.mark.parametrize(
    ("sample", "reason"),
    [
        ("0", "must be more than 0; got 0"),
        ("-0.5", "must be more than 0; got -0.5"),
        ("1.5", "must be at most 1; got 1.5"),
        ("true", "must be a number; got true"),
        ('"10%"', "must be a number; got '10%'"),
    ],
)
def test_a_rate_outside_zero_to_one_is_refused_at_its_line(tmp_path: Path, sample: str, reason: str) -> None:
    with pytest.raises(PolicyError, match=rf"policy.yaml:9: `sample` {reason} \(rules\[0\]\.log\.sample\)"):
        load_policy(write(tmp_path, SAMPLED.replace("0.1", sample)))


def test_an_unknown_key_under_log_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"policy.yaml:9: .*rate"):
        load_policy(write(tmp_path, SAMPLED.replace("sample: 0.1", "rate: 0.1")))


def test_an_extending_file_samples_a_rule_of_its_base_and_is_held_to_the_same_rules(tmp_path: Path) -> None:
    write(tmp_path, SAMPLED.replace("    log: {sample: 0.1}\n", ""), "base.yaml")
    sampled = (
        "version: 1\nname: app\nextends: ./base.yaml\nrules:\n  - {id: connections-profiles, log: {sample: 0.5}}\n"
    )
    (rule,) = load_policy(write(tmp_path, sampled)).policy.rules
    assert rule.log is not None and rule.log.sample == 0.5
    # The base's rule turned into a denial by a second file: its sample is refused where it is written.
    write(tmp_path, sampled, "app.yaml")
    denied = "version: 1\nname: team\nextends: ./app.yaml\nrules:\n  - {id: connections-profiles, then: deny}\n"
    with pytest.raises(PolicyError, match=r"app.yaml:5: only `then: allow` rules sample their log"):
        load_policy(write(tmp_path, denied, "team.yaml"))
