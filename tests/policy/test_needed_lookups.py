"""A condition that reads a relationship lookup the policy does not declare never leaves a
protection silently off.

Written in the host's own files, a condition that could then never hold is refused at its
file and line. Inherited whole from a bundled policy (the baseline), it is a notice, shown
by `policy check` and logged at start-up: refusing it would make the baseline unloadable
for every host without the lookup. A mutual-connection range from 0 still holds without
its lookup (every pair counts as sharing none, the protective reading): a notice too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from safe_accounts.errors import PolicyError
from safe_accounts.policy import load_policy

LOOKUPS = {
    "connected": 'connected: {sql: "SELECT f FROM friends WHERE a = :actor AND f IN :targets"}',
    "mutual_count": 'mutual_count: {sql: "SELECT COUNT(*) FROM friends WHERE a = :actor AND b = :target"}',
    "community_ties": 'community_ties: {sql: "SELECT COUNT(*) FROM circle WHERE a = :actor AND b = :target"}',
    "vouched": 'vouched: {sql: "SELECT 1 FROM vouches WHERE account_id = :account"}',
    "adult_connections": 'adult_connections: {sql: "SELECT share FROM circles WHERE account_id = :account"}',
}


def signal(where: str, event: str = "contact_request") -> str:
    return f"""signals:
  counts:
    - id: watched
      event: {event}
      where: {{other_band: [minor], {where}}}
      window: 7d
      threshold: 2
      reason: r
"""


def rule(when: str) -> str:
    return f"""rules:
  - id: watched
    action: contact_request
    when: {{target_band: [minor], {when}}}
    then: deny
    reason: r
"""


def write(tmp_path: Path, text: str, *lookups: str, name: str = "policy.yaml", extends: str = "") -> Path:
    declared = "relationships:\n" + "".join(f"  {LOOKUPS[lookup]}\n" for lookup in lookups) if lookups else ""
    head = "version: 1\nname: t\n" + (f"extends: {extends}\n" if extends else "")
    path = tmp_path / name
    path.write_text(head + text + declared, encoding="utf-8")
    return path


# Each condition that never holds without its lookup, written in the host's file: the
# condition is on line 7 of the file `write` makes for a signal, line 6 for a rule.
NEVER_HOLDS = [
    (signal("mutual_connections: {min: 1}"), "mutual_connections", "mutual_count"),
    (signal("community_ties: {max: 0}"), "community_ties", "community_ties"),
    (signal("subject_adult_connections: {min: 60}"), "subject_adult_connections", "adult_connections"),
    (signal("vouched: true"), "vouched", "vouched"),
    (rule("mutual_connections: {min: 1}"), "mutual_connections", "mutual_count"),
    (rule("connected: true"), "connected", "connected"),
]


@pytest.mark.parametrize(("text", "condition", "lookup"), NEVER_HOLDS, ids=lambda v: v if "\n" not in v else None)
def test_a_condition_that_never_holds_without_its_lookup_is_refused_at_its_line(
    tmp_path: Path, text: str, condition: str, lookup: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(write(tmp_path, text))
    (problem,) = caught.value.problems
    line = 6 if text.startswith("rules") else 7
    assert (Path(problem.file).name, problem.line) == ("policy.yaml", line)
    assert problem.reason.startswith(
        f"`{condition}` needs the `relationships.{lookup}` lookup ("
    ) and "which this policy does not declare: without it" in problem.reason
    assert "so it never holds (declare it under `relationships:`, or drop the condition)" in problem.reason
    assert problem.path.endswith(f".{condition}")


@pytest.mark.parametrize(("text", "condition", "lookup"), NEVER_HOLDS, ids=lambda v: v if "\n" not in v else None)
def test_the_same_condition_with_its_lookup_loads_without_a_notice(
    tmp_path: Path, text: str, condition: str, lookup: str
) -> None:
    loaded = load_policy(write(tmp_path, text, lookup))
    assert loaded.notices == ()


@pytest.mark.parametrize(("text", "condition", "lookup"), NEVER_HOLDS, ids=lambda v: v if "\n" not in v else None)
def test_a_switched_off_item_needs_no_lookup(tmp_path: Path, text: str, condition: str, lookup: str) -> None:
    indent = "    " if text.startswith("rules") else "      "
    off = text.replace(f"{indent}reason: r\n", f"{indent}reason: r\n{indent}enabled: false\n")
    assert load_policy(write(tmp_path, off)).notices == ()


@pytest.mark.parametrize("text", [signal("mutual_connections: {max: 0}"), rule("mutual_connections: {max: 0}")])
def test_a_mutual_range_from_zero_without_the_lookup_loads_with_a_notice_at_its_line(tmp_path: Path, text: str) -> None:
    loaded = load_policy(write(tmp_path, text))

    (notice,) = loaded.notices
    kind = "rule" if text.startswith("rules") else "signal"
    assert (Path(notice.file).name, notice.line) == ("policy.yaml", 6 if kind == "rule" else 7)
    assert notice.reason.startswith(
        f"{kind} `watched` is broader than written: its `{'when' if kind == 'rule' else 'where'}.mutual_connections` "
        "needs the `relationships.mutual_count` lookup"
    )
    assert "every pair counts as sharing no connection, so it holds for every pair" in notice.reason
    assert load_policy(write(tmp_path, text, "mutual_count")).notices == ()


@pytest.mark.parametrize("text", [signal("vouched: false"), rule("connected: false")])
def test_what_has_a_documented_meaning_without_its_lookup_loads_quietly(tmp_path: Path, text: str) -> None:
    # Without `connected` every pair is strangers; without `vouched` nobody is vouched for.
    assert load_policy(write(tmp_path, text)).notices == ()


def test_a_condition_in_a_base_of_the_hosts_own_is_refused_in_that_file(tmp_path: Path) -> None:
    write(tmp_path, signal("community_ties: {max: 0}"), name="base.yaml")
    app = write(tmp_path, "", extends="./base.yaml", name="app.yaml")

    with pytest.raises(PolicyError, match=r"base.yaml:7: `community_ties` needs the `relationships.community_ties`"):
        load_policy(app)
    # ...and declaring the lookup in the extending file is enough.
    assert load_policy(write(tmp_path, "", "community_ties", extends="./base.yaml", name="app.yaml")).notices == ()


# --- what the baseline inherits --------------------------------------------------------------

def told_about(reason: str) -> tuple[str, str]:
    found = re.match(r"(?:rule|signal) `([^`]+)` is (inactive|broader than written): ", reason)
    assert found is not None, reason
    return found[1], found[2]


BASELINE_TIES = ("scattered-rejections-by-minors", "scattered-requests-from-minors", "requests-through-new-ties")


def test_a_host_without_the_lookups_still_loads_the_baseline_and_is_told_what_is_inactive(tmp_path: Path) -> None:
    loaded = load_policy(write(tmp_path, "", "connected", "mutual_count", extends="baseline"))

    assert {told_about(n.reason) for n in loaded.notices} == {(name, "inactive") for name in BASELINE_TIES}
    for notice in loaded.notices:
        assert Path(notice.file).name == "baseline.yaml" and notice.line is not None
        assert "its `where.community_ties` needs the `relationships.community_ties` lookup" in notice.reason
        assert "declare the lookup under `relationships:`" in notice.reason
        assert notice.path.endswith("where.community_ties")


def test_without_a_mutual_count_the_baselines_range_from_zero_is_broader_and_from_one_inactive(tmp_path: Path) -> None:
    loaded = load_policy(write(tmp_path, "", "connected", "community_ties", extends="baseline"))

    told = {told_about(notice.reason) for notice in loaded.notices}
    assert told == {
        ("stranger-request-to-minor", "broader than written"),
        ("stranger-request-cap", "broader than written"),
        ("adult-strangers-out-of-minor-suggestions", "broader than written"),
        ("unconnected-minors-requested", "broader than written"),
        ("requests-through-new-ties", "inactive"),
    }


def test_a_host_that_declares_the_lookups_is_told_nothing(tmp_path: Path) -> None:
    every = ("connected", "mutual_count", "community_ties")
    assert load_policy(write(tmp_path, "", *every, extends="baseline")).notices == ()


def test_a_host_that_switches_the_baselines_inactive_signals_off_is_told_nothing(tmp_path: Path) -> None:
    off = "signals:\n  counts:\n" + "".join(f"    - {{id: {name}, enabled: false}}\n" for name in BASELINE_TIES)
    assert load_policy(write(tmp_path, off, "connected", "mutual_count", extends="baseline")).notices == ()


def test_a_host_that_changes_an_inactive_baseline_signal_relies_on_it_and_is_refused_at_its_change(
    tmp_path: Path,
) -> None:
    changed = "signals:\n  counts:\n    - {id: scattered-rejections-by-minors, threshold: 3}\n"

    with pytest.raises(PolicyError) as caught:
        load_policy(write(tmp_path, changed, "connected", "mutual_count", extends="baseline"))
    (problem,) = caught.value.problems
    assert (Path(problem.file).name, problem.line) == ("policy.yaml", 6)
    assert problem.reason.startswith(
        "signal `scattered-rejections-by-minors` is changed here, and its `where.community_ties` ("
    )
    assert "baseline.yaml:" in problem.reason
    assert "needs the `relationships.community_ties` lookup" in problem.reason
