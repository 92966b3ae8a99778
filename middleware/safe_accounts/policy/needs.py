"""The conditions that read a relationship lookup, and what each does when the policy
declares no such lookup.

Without its lookup a condition still runs, on a stand-in answer: no mutual connection,
no community tie and no adult share is known, nobody is connected or vouched for. Most
of those readings make the condition constant, and a protection built on it is then off
(it never matches) or is not what was written (a range from 0 matches every pair) while
the policy looks as if it were on. So each enabled rule or count signal that uses one of
these conditions without the lookup is listed here; the loader decides, by who wrote it,
whether that stops the policy or is reported as it loads (`loader.py`).

Two readings are the documented meaning of a policy without the lookup, and are not
listed: `connected: false` (without `relationships.connected` every pair is strangers,
what the baseline's protections of children rest on) and `where: {vouched: false}`
(without `relationships.vouched` nobody is vouched for, so the filter leaves everyone in).

Like `checks.py`, this reads the plain merged data defensively: a value of the wrong type
is the model's to report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

Loc = tuple[str | int, ...]

# What each lookup answers, as a reason says it.
_ANSWERS = {
    "connected": "whether two accounts are connected",
    "mutual_count": "how many connections two accounts share",
    "community_ties": "how many of a child's connections are in the other account's circle",
    "vouched": "whether the platform vouches for an account",
    "adult_connections": "the percentage of an account's connections who are adults",
}


@dataclass(frozen=True, slots=True)
class Unmet:
    """An enabled rule or count signal whose condition reads a lookup the policy does not declare."""

    item: Loc  # the rule or signal: ("signals", "counts", 3)
    condition: Loc  # its condition: ("signals", "counts", 3, "where", "community_ties")
    lookup: str  # the lookup under `relationships`: "community_ties"
    inactive: bool  # True: the condition never holds; False: it holds for every pair
    without: str  # what the condition does without the lookup, as a sentence's end

    @property
    def needs(self) -> str:
        """`needs the `relationships.community_ties` lookup (...), which this policy does not declare`"""
        return (
            f"needs the `relationships.{self.lookup}` lookup ({_ANSWERS[self.lookup]}), "
            "which this policy does not declare"
        )

    @property
    def written(self) -> str:
        """The condition as written in the item: `when.mutual_connections`."""
        return ".".join(str(step) for step in self.condition[len(self.item):])


def unmet(data: Any) -> Iterator[Unmet]:
    """Every condition of an enabled rule or count signal whose lookup `data` does not declare."""
    if not isinstance(data, dict):
        return
    relationships = data.get("relationships")
    declared: set[str] = (
        {name for name, lookup in relationships.items() if lookup is not None}
        if isinstance(relationships, dict)
        else set()
    )
    for index, rule in _enabled(data, "rules"):
        yield from _conditions(("rules", index), rule.get("when"), "when", declared, _RULE_CONDITIONS)
    for index, signal in _enabled(data, "signals", "counts"):
        yield from _conditions(
            ("signals", "counts", index), signal.get("where"), "where", declared, _SIGNAL_CONDITIONS
        )


def _enabled(data: dict[str, Any], *path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    found: Any = data
    for step in path:
        found = found.get(step) if isinstance(found, dict) else None
    if isinstance(found, list):
        for index, item in enumerate(found):
            if isinstance(item, dict) and item.get("enabled") is not False:
                yield index, item


def _conditions(
    item: Loc, conditions: Any, key: str, declared: set[str], table: dict[str, _Reading]
) -> Iterator[Unmet]:
    if not isinstance(conditions, dict):
        return
    for name, reading in table.items():
        value = conditions.get(name)
        if value is None or reading.lookup in declared:
            continue
        verdict = reading.without(value)
        if verdict is not None:
            inactive, without = verdict
            yield Unmet(item, (*item, key, name), reading.lookup, inactive, without)


# --- what each condition does without its lookup ------------------------------------------
# Each reading says (inactive, what happens) for a written value, or None when the value
# has a documented meaning without the lookup.

Verdict = tuple[bool, str] | None


@dataclass(frozen=True, slots=True)
class _Reading:
    lookup: str
    without: Callable[[Any], Verdict]


def _count_range(value: Any) -> Verdict:
    # Without `mutual_count` every pair shares 0 connections (relations/relationships.py).
    low = value.get("min") if isinstance(value, dict) else None
    if isinstance(low, int) and low > 0:
        return True, "every pair counts as sharing no connection, so it never holds"
    return False, "every pair counts as sharing no connection, so it holds for every pair"


def _unknown_range(value: Any) -> Verdict:
    # An unknown count matches no range (signals/plan.py).
    return True, "the value is unknown for every event, so it never holds"


def _only_if_true(nobody: str) -> Callable[[Any], Verdict]:
    def reading(value: Any) -> Verdict:
        return (True, f"{nobody}, so it never holds") if value is True else None

    return reading


_RULE_CONDITIONS = {
    "connected": _Reading("connected", _only_if_true("nobody is connected")),
    "mutual_connections": _Reading("mutual_count", _count_range),
}
_SIGNAL_CONDITIONS = {
    "mutual_connections": _Reading("mutual_count", _count_range),
    "community_ties": _Reading("community_ties", _unknown_range),
    "subject_adult_connections": _Reading("adult_connections", _unknown_range),
    "vouched": _Reading("vouched", _only_if_true("nobody is vouched for")),
}
