"""Behaviour after acceptance in the policy file: `where: {accepted_within: ...}`,
`where: {at_night: ...}` and `signals.night`, checked at start-up with the file and line of
each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from safe_accounts.errors import PolicyError
from safe_accounts.policy import load_policy
from safe_accounts.policy.model import EventKind
from safe_accounts.signals import SignalPlan

SIGNALS = """
signals:
  night: {from: "22:30", to: "05:00", timezone: Europe/London}
  counts:
    - id: soon
      event: direct_message
      where: {other_band: [minor], subject_band: [adult], accepted_within: 10m}
      window: 7d
      count: distinct_others
      threshold: 3
      reason: messages to children within minutes of their accepting
    - id: late
      event: direct_message
      where: {other_band: [minor], subject_band: [adult], at_night: true}
      window: 7d
      count: distinct_others
      threshold: 3
      reason: messages to children at night
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text("version: 1\nname: t\n" + text, encoding="utf-8")
    return path


def test_the_signals_compile_with_the_policys_night(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, SIGNALS)).policy
    soon, late = SignalPlan.compile(policy.signals).counts
    assert soon.event is EventKind.DIRECT_MESSAGE and soon.accepted_within == 600 and soon.at_night is None
    assert late.at_night is True and late.night is not None
    assert (late.night.start, late.night.end, str(late.night.zone)) == (22 * 60 + 30, 5 * 60, "Europe/London")


def test_the_night_defaults_to_ten_to_six_utc(tmp_path: Path) -> None:
    without = SIGNALS.replace('  night: {from: "22:30", to: "05:00", timezone: Europe/London}\n', "")
    policy = load_policy(write(tmp_path, without)).policy
    night = policy.signals.night
    assert (night.from_, night.to, night.timezone) == ("22:00", "06:00", "UTC")


def test_an_unknown_time_zone_is_refused_at_its_line(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"policy.yaml:5.*'Europe/Londres' is not a time zone"):
        load_policy(write(tmp_path, SIGNALS.replace("Europe/London", "Europe/Londres")))


def test_an_unknown_time_zone_is_not_read_when_no_enabled_signal_asks_the_time(tmp_path: Path) -> None:
    reason = "      reason: messages to children at night\n"
    text = SIGNALS.replace("Europe/London", "Europe/Londres").replace(reason, reason + "      enabled: false\n")
    assert load_policy(write(tmp_path, text)).policy.signals.night.timezone == "Europe/Londres"


@pytest.mark.parametrize(
    ("night", "message"),
    [
        ('{from: "22:00", to: "22:00"}', "the night would be empty"),
        ('{from: "24:00", to: "06:00"}', "from"),
        ('{from: "10pm", to: "06:00"}', "from"),
        ('{from: "22:00", to: "6:00"}', "to"),
    ],
)
def test_night_hours_are_two_different_times_of_the_24_hour_clock(tmp_path: Path, night: str, message: str) -> None:
    text = SIGNALS.replace('{from: "22:30", to: "05:00", timezone: Europe/London}', night)
    with pytest.raises(PolicyError, match=rf"policy.yaml:5.*{message}"):
        load_policy(write(tmp_path, text))


def test_accepted_within_must_be_a_duration_longer_than_zero(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"policy.yaml:9.*`accepted_within` must be longer than zero"):
        load_policy(write(tmp_path, SIGNALS.replace("accepted_within: 10m", "accepted_within: 0m")))
    with pytest.raises(PolicyError, match=r"policy.yaml:9.*accepted_within"):
        load_policy(write(tmp_path, SIGNALS.replace("accepted_within: 10m", "accepted_within: soon")))


def test_at_night_is_true_or_false(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"policy.yaml:16.*at_night"):
        load_policy(write(tmp_path, SIGNALS.replace("at_night: true", "at_night: late")))
