"""When a lookup fails: refuse only if an enforced, fail-closed rule could have applied with
what is still known (bands already cached, restrictions, the targets if they were read)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest

from safe_accounts import AgeBand, Assurance, StorageError
from safe_accounts.bands.age import BandRecord
from safe_accounts.decide.budget import OverBudget
from safe_accounts.decide.failing import refuses
from safe_accounts.decide.given import GivenFacts
from safe_accounts.decide.request import decide
from safe_accounts.decide.rules import RuleSet, compile_rule
from safe_accounts.policy.model import Action, Failure, Mode, Rule

from .cold import Cold


def rules(*, mode: Mode = Mode.ENFORCE, on_failure: Failure = Failure.CLOSED) -> RuleSet:
    stranger_dm = Rule.model_validate({
        "id": "stranger-dm", "action": "direct_message", "then": "deny", "reason": "no",
        "when": {"target_band": ["minor"], "connected": False},
    })
    return RuleSet(Action.DIRECT_MESSAGE, [
        compile_rule(stranger_dm, policy_mode=mode, on_failure=on_failure, unknown_is_minor=True)
    ])


FACTS = GivenFacts(records={
    "adult": BandRecord("adult", AgeBand.ADULT, Assurance.VERIFIED, "given"),
    "kid": BandRecord("kid", AgeBand.B13_15, Assurance.SELF_DECLARED, "given"),
    "grown-up": BandRecord("grown-up", AgeBand.ADULT, Assurance.SELF_DECLARED, "given"),
})


def test_a_message_to_a_child_whose_relationship_could_not_be_read_is_refused() -> None:
    assert refuses(FACTS, rules(), "adult", ["kid"])


def test_a_message_to_a_cached_adult_goes_on_no_rule_could_apply() -> None:
    assert not refuses(FACTS, rules(), "adult", ["grown-up"])


def test_an_account_whose_band_is_not_cached_could_be_a_child() -> None:
    assert refuses(Cold(FACTS), rules(), "adult", ["grown-up"])


def test_targets_that_could_not_be_read_could_be_anyone() -> None:
    assert refuses(FACTS, rules(), "adult", None)


def test_monitor_rules_and_fail_open_rules_never_refuse() -> None:
    assert not refuses(FACTS, rules(mode=Mode.MONITOR), "adult", ["kid"])
    assert not refuses(FACTS, rules(on_failure=Failure.OPEN), "adult", ["kid"])
    assert not refuses(FACTS, RuleSet(Action.DIRECT_MESSAGE, []), "adult", None)


class Stalled(GivenFacts):
    """Facts whose band store never answers."""

    async def get_many(self, ids: Iterable[str]) -> dict[str, BandRecord]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_facts_that_do_not_come_within_the_time_budget_are_a_storage_error() -> None:
    stalled = Stalled(time_budget=0.01)
    with pytest.raises(StorageError, match="time budget exceeded") as failed:
        await decide(Cold(stalled), rules(), "adult", ["kid"])
    assert isinstance(failed.value, OverBudget)
