"""`relationships.vouched` (the host's query for accounts the platform vouches for, called
with :account) and the count signals' `where: {vouched: ...}`."""

from __future__ import annotations

from pathlib import Path

import pytest

from safe_accounts.errors import PolicyError
from safe_accounts.policy import load_policy
from safe_accounts.relations.vouched import Vouched
from safe_accounts.signals import SignalPlan

VOUCHED = """
relationships:
  vouched:
    sql: SELECT 1 FROM staff WHERE account_id = :account
"""

SCATTERED = """
signals:
  counts:
    - id: scattered
      event: contact_rejected
      where: {other_band: [minor], vouched: false}
      window: 14d
      threshold: 2
      reason: rejections of accounts nobody vouches for
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text("version: 1\nname: t\n" + text, encoding="utf-8")
    return path


def test_a_signal_counts_only_accounts_not_vouched_for(tmp_path: Path) -> None:
    loaded = load_policy(write(tmp_path, VOUCHED + SCATTERED))
    (spec,) = SignalPlan.compile(loaded.policy.signals).counts
    assert spec.vouched is False


def test_the_lookup_is_compiled_only_for_the_events_a_signal_filters_by_it(tmp_path: Path) -> None:
    vouched = Vouched.wanted(load_policy(write(tmp_path, VOUCHED + SCATTERED)).policy, None)
    assert vouched is not None and {k.value for k in vouched.kinds} == {"contact_rejected"}
    assert Vouched.wanted(load_policy(write(tmp_path, VOUCHED)).policy, None) is None


def test_without_the_lookup_nothing_is_queried(tmp_path: Path) -> None:
    assert Vouched.wanted(load_policy(write(tmp_path, SCATTERED)).policy, None) is None


def test_a_lookup_with_another_parameter_is_refused_by_name(tmp_path: Path) -> None:
    bad = VOUCHED.replace(":account", ":actor")
    with pytest.raises(PolicyError, match=r"query uses :actor, but `vouched` is called with :account"):
        load_policy(write(tmp_path, bad))


def test_a_lookup_that_does_not_name_the_account_is_refused_with_its_line(tmp_path: Path) -> None:
    bad = VOUCHED.replace("WHERE account_id = :account", "")
    with pytest.raises(PolicyError, match=r"policy.yaml:6.*must use :account"):
        load_policy(write(tmp_path, bad))


def test_vouched_must_be_true_or_false(tmp_path: Path) -> None:
    bad = SCATTERED.replace("vouched: false", "vouched: sometimes")
    with pytest.raises(PolicyError, match="vouched"):
        load_policy(write(tmp_path, VOUCHED + bad))
