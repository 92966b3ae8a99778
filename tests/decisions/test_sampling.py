"""Which decisions a sampled `allow` rule keeps: by a hash of the decision's id, so the same
decision is kept every time, and over many decisions the share kept is the rate."""

from __future__ import annotations

import math
import random

import pytest

from safe_accounts.decisions.log import DecisionRow
from safe_accounts.decisions.sampling import kept, share

# Ids shaped like `new_decision_id`'s (24 hex digits), from a seeded generator: the same
# ids, so the same counts, on every run.
_SEEDED = random.Random(19)
IDS = [f"{_SEEDED.getrandbits(96):024x}" for _ in range(20_000)]


def row(id: str, rule: str, sample_rate: float | None = None, outcome: str = "allow") -> DecisionRow:
    return DecisionRow(
        id=id, at=0.0, action="profile_view", rule=rule, policy_version="v", mode="enforce", outcome=outcome,
        status=None, actor_id="a", actor_band="adult", target_id="t", target_band="adult", route="profile",
        sample_rate=sample_rate,
    )


def test_an_id_falls_in_the_unit_interval_and_always_at_the_same_place() -> None:
    shares = [share(i) for i in IDS[:1000]]
    assert all(0 <= s < 1 for s in shares)
    assert shares == [share(i) for i in IDS[:1000]]


@pytest.mark.parametrize("rate", [0.5, 0.25, 0.1, 0.01])
def test_the_share_kept_over_many_decisions_is_the_rate(rate: float) -> None:
    count = sum(1 for i in IDS if kept([row(i, "r", rate)]))
    spread = 4 * math.sqrt(len(IDS) * rate * (1 - rate))
    assert abs(count - len(IDS) * rate) <= spread
    # Ids counted out one by one (as tests count them) spread as well as random ones.
    counted = sum(1 for n in range(len(IDS)) if kept([row(f"{n:024x}", "r", rate)]))
    assert abs(counted - len(IDS) * rate) <= spread


def test_a_decision_kept_at_a_rate_is_kept_at_every_higher_rate() -> None:
    tenth = {i for i in IDS if kept([row(i, "r", 0.1)])}
    half = {i for i in IDS if kept([row(i, "r", 0.5)])}
    assert tenth and tenth < half


def test_rows_without_a_rate_are_always_kept() -> None:
    refused = row(IDS[0], "stranger-dm-to-minor", outcome="deny")
    assert all(kept([row(i, "stranger-dm-to-minor", outcome="deny")]) for i in IDS[:1000])
    assert kept([refused]) == [refused]
    assert kept([]) == []


def test_the_rows_of_one_decision_go_by_its_id_the_first_rows() -> None:
    out = next(i for i in IDS if 0.1 <= share(i) < 0.5)  # left out at 0.1, kept at 0.5
    decision = [row(out, "filter", None, "filter"), row("other-id", "tenth", 0.1), row("x", "half", 0.5)]
    assert [r.rule for r in kept(decision)] == ["filter", "half"]
