"""Which events a count signal reads the pair's mutual connections of: an event of its kind
whose other account is in its `other_band`, only while the signal is enabled."""

from __future__ import annotations

from pathlib import Path

from safe_accounts.bands.age import AgeBand
from safe_accounts.policy import load_policy
from safe_accounts.policy.model import EventKind
from safe_accounts.relations.mutual_wanted import MutualWanted

POLICY = """\
version: 1
name: t
relationships:
  mutual_count:
    sql: SELECT COUNT(*) FROM friends WHERE a = :actor AND b = :target
signals:
  counts:
    - id: rejected-by-unconnected-minors
      event: contact_rejected
      where: {other_band: [minor], mutual_connections: {max: 0}}
      window: 7d
      threshold: 2
      reason: r
    - id: blocked-by-anyone-unconnected
      event: blocked
      where: {mutual_connections: {max: 0}}
      window: 7d
      threshold: 2
      reason: r
    - id: reported-unconnected
      event: reported
      where: {mutual_connections: {max: 0}}
      window: 7d
      threshold: 2
      reason: r
      enabled: false
"""


def _wanted(tmp_path: Path, text: str, *, unknown_is_minor: bool = True) -> MutualWanted | None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return MutualWanted.of(load_policy(path).policy, unknown_is_minor=unknown_is_minor)


def test_an_event_is_read_by_its_kind_and_the_other_accounts_band(tmp_path: Path) -> None:
    wanted = _wanted(tmp_path, POLICY)
    assert wanted is not None
    assert wanted.kinds == {EventKind.CONTACT_REJECTED, EventKind.BLOCKED}
    assert wanted.wanted_for(EventKind.CONTACT_REJECTED, AgeBand.B13_15)
    assert wanted.wanted_for(EventKind.CONTACT_REJECTED, AgeBand.UNKNOWN)  # unknown counts as a minor
    assert not wanted.wanted_for(EventKind.CONTACT_REJECTED, AgeBand.ADULT)
    assert wanted.wanted_for(EventKind.BLOCKED, AgeBand.ADULT)  # no `other_band`: any other
    assert not wanted.wanted_for(EventKind.REPORTED, AgeBand.B13_15)  # its signal is off
    assert not wanted.wanted_for(EventKind.CONTACT_ACCEPTED, AgeBand.B13_15)


def test_unknown_is_no_minor_where_the_policy_says_so(tmp_path: Path) -> None:
    wanted = _wanted(tmp_path, POLICY, unknown_is_minor=False)
    assert wanted is not None and not wanted.wanted_for(EventKind.CONTACT_REJECTED, AgeBand.UNKNOWN)


def test_a_policy_whose_signals_ask_for_no_mutual_count_reads_none(tmp_path: Path) -> None:
    assert _wanted(tmp_path, "version: 1\nname: t\n") is None
