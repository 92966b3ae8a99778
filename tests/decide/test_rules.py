"""The rule engine on its own: rules compiled from the model, applied to a pair of parties.

Two phases: bands, assurance, restriction and anonymity first (no I/O), then the
relationship, asked for only by the rules that survived phase one.
"""

from __future__ import annotations

from collections.abc import Collection

import pytest

from safe_accounts import AgeBand, Assurance
from safe_accounts.bands.age import MINOR_BANDS, BandRecord, expand_bands
from safe_accounts.decide.given import GivenFacts
from safe_accounts.decide.judge import judge
from safe_accounts.decide.rules import Lookups, Party, RuleSet, compile_rule
from safe_accounts.policy.model import Action, Failure, Mode, Outcome, Rule

ADULT = Party("adult-1", AgeBand.ADULT, Assurance.VERIFIED)
OTHER_ADULT = Party("adult-2", AgeBand.ADULT)
CHILD = Party("child-1", AgeBand.UNDER_13)
TEEN = Party("teen-1", AgeBand.B16_17)
NOBODY = Party(None, AgeBand.UNKNOWN)


def rule(id: str, then: Outcome, mode: Mode | None = None, **when: object) -> Rule:
    return Rule.model_validate(
        {"id": id, "action": "direct_message", "when": when, "then": then, "reason": f"{id} applies", "mode": mode}
    )


def ruleset(*rules: Rule, policy_mode: Mode = Mode.ENFORCE, unknown_is_minor: bool = True) -> RuleSet:
    return RuleSet(
        Action.DIRECT_MESSAGE,
        [
            compile_rule(r, policy_mode=policy_mode, on_failure=Failure.CLOSED, unknown_is_minor=unknown_is_minor)
            for r in rules
        ],
    )


NOT_LOOKED_UP = Lookups()


def decide(rules: RuleSet, actor: Party, target: Party, lookups: Lookups = NOT_LOOKED_UP) -> Outcome:
    return RuleSet.verdict(rules.stage(actor, target).rules, lookups).outcome


STRANGER_DM = rule("stranger_dm", Outcome.DENY, target_band=["minor"], connected=False)


def test_minor_means_every_band_below_adult_and_unknown_when_the_policy_says_so() -> None:
    assert expand_bands(["minor"], unknown_is_minor=True) == MINOR_BANDS | {AgeBand.UNKNOWN}
    assert expand_bands(["minor"], unknown_is_minor=False) == MINOR_BANDS
    assert expand_bands(["adult", "13_15"], unknown_is_minor=True) == {AgeBand.ADULT, AgeBand.B13_15}


def test_a_stranger_writing_to_a_child_is_denied_and_a_connection_is_not() -> None:
    rules = ruleset(STRANGER_DM)
    assert decide(rules, ADULT, CHILD, Lookups(connected=False)) is Outcome.DENY
    assert decide(rules, ADULT, CHILD, Lookups(connected=True)) is Outcome.ALLOW


def test_an_unknown_relationship_counts_as_not_connected() -> None:
    assert decide(ruleset(STRANGER_DM), ADULT, CHILD, Lookups(connected=None)) is Outcome.DENY


def test_an_adult_to_an_adult_needs_no_relationship_lookup() -> None:
    stage = ruleset(STRANGER_DM).stage(ADULT, OTHER_ADULT)
    assert stage.rules == ()
    assert not stage.needs_connected and not stage.needs_mutual


def test_phase_one_asks_for_the_relationship_only_when_a_surviving_rule_needs_it() -> None:
    few_mutuals = rule("few_mutuals", Outcome.DENY, target_band=["minor"], mutual_connections={"max": 0})
    rules = ruleset(STRANGER_DM, few_mutuals)
    stage = rules.stage(ADULT, CHILD)
    assert stage.needs_connected and stage.needs_mutual
    assert {r.id for r in stage.rules} == {"stranger_dm", "few_mutuals"}


def test_a_rule_about_a_pair_never_applies_to_an_account_acting_on_itself() -> None:
    assert ruleset(STRANGER_DM).stage(CHILD, CHILD).rules == ()


def test_the_strongest_applying_outcome_wins() -> None:
    rules = ruleset(
        rule("redact_minors", Outcome.REDACT, target_band=["minor"]),
        rule("hide_under_13", Outcome.HIDE, target_band=["under_13"]),
    )
    assert decide(rules, ADULT, CHILD) is Outcome.HIDE
    assert decide(rules, ADULT, TEEN) is Outcome.REDACT


def test_an_enforced_rule_beats_a_stronger_monitored_one() -> None:
    rules = ruleset(
        rule("trial_hide", Outcome.HIDE, Mode.MONITOR, target_band=["minor"]),
        rule("redact", Outcome.REDACT, target_band=["minor"]),
    )
    verdict = RuleSet.verdict(rules.stage(ADULT, CHILD).rules, Lookups())
    assert verdict.outcome is Outcome.REDACT and verdict.mode is Mode.ENFORCE


def test_a_monitored_rule_is_the_verdict_only_when_no_enforced_rule_applies() -> None:
    rules = ruleset(rule("trial", Outcome.DENY, Mode.MONITOR, target_band=["minor"]))
    verdict = RuleSet.verdict(rules.stage(ADULT, CHILD).rules, Lookups())
    assert verdict.outcome is Outcome.DENY and verdict.mode is Mode.MONITOR


def test_the_policy_mode_applies_where_a_rule_names_none() -> None:
    rules = ruleset(STRANGER_DM, policy_mode=Mode.MONITOR)
    assert RuleSet.verdict(rules.stage(ADULT, CHILD).rules, Lookups(connected=False)).mode is Mode.MONITOR


@pytest.mark.parametrize(
    ("when", "actor", "target", "applies"),
    [
        ({"actor_band": ["adult"]}, ADULT, CHILD, True),
        ({"actor_band": ["adult"]}, TEEN, CHILD, False),
        ({"actor_assurance_below": "verified"}, ADULT, CHILD, False),
        ({"actor_assurance_below": "verified"}, OTHER_ADULT, CHILD, True),
        ({"actor_restricted": True}, ADULT._replace(restricted=True), CHILD, True),
        ({"actor_restricted": True}, ADULT, CHILD, False),
        ({"target_restricted": False}, ADULT, CHILD, True),
        ({"anonymous": True}, NOBODY, CHILD, True),
        ({"anonymous": True}, ADULT, CHILD, False),
        ({"target_band": ["minor"]}, ADULT, Party("ghost", AgeBand.UNKNOWN), True),
    ],
)
def test_each_cheap_condition(when: dict[str, object], actor: Party, target: Party, applies: bool) -> None:
    rules = ruleset(rule("r", Outcome.DENY, **when))
    assert (decide(rules, actor, target) is Outcome.DENY) is applies


def test_an_unknown_band_is_an_adult_when_the_policy_says_so() -> None:
    rules = ruleset(rule("r", Outcome.DENY, target_band=["minor"]), unknown_is_minor=False)
    assert decide(rules, ADULT, Party("ghost", AgeBand.UNKNOWN)) is Outcome.ALLOW


def test_mutual_connection_bounds_are_inclusive() -> None:
    rules = ruleset(rule("r", Outcome.DENY, target_band=["minor"], mutual_connections={"min": 1, "max": 2}))
    assert [decide(rules, ADULT, CHILD, Lookups(mutual=n)) for n in (0, 1, 2, 3)] == [
        Outcome.ALLOW, Outcome.DENY, Outcome.DENY, Outcome.ALLOW,
    ]


def test_phase_one_is_remembered_per_combination_of_facts_not_per_account() -> None:
    rules = ruleset(STRANGER_DM)
    first = rules.stage(ADULT, CHILD)
    assert rules.stage(ADULT._replace(id="adult-9"), CHILD._replace(id="child-9")) is first


CAP = rule(
    "cap", Outcome.DENY, connected=False, mutual_connections={"max": 0},
    actor_count={"signal": "reached", "min": 5},
)


class CountingFacts(GivenFacts):
    """Given facts that remember which relationship questions were asked."""

    asked: list[str]

    async def connected_among(self, actor: str, targets: Collection[str]) -> frozenset[str]:
        self.asked.append("connected")
        return await super().connected_among(actor, targets)

    async def mutual(self, actor: str, target: str) -> int:
        self.asked.append("mutual")
        return await super().mutual(actor, target)


async def test_a_capped_rule_asks_nothing_of_the_relationship_until_the_actor_reaches_its_count() -> None:
    records = {a.id: BandRecord(a.id, a.band, a.assurance, "given") for a in (ADULT, CHILD) if a.id}
    below = CountingFacts(records=records, signal_counts={"adult-1": {"reached": 4}})
    object.__setattr__(below, "asked", [])
    at_cap = CountingFacts(records=records, signal_counts={"adult-1": {"reached": 5}})
    object.__setattr__(at_cap, "asked", [])
    rules = ruleset(CAP)
    (allowed,) = await judge(below, rules, ADULT, [CHILD])
    (denied,) = await judge(at_cap, rules, ADULT, [CHILD])
    assert (allowed.verdict.outcome, below.asked) == (Outcome.ALLOW, [])
    assert (denied.verdict.outcome, sorted(at_cap.asked)) == (Outcome.DENY, ["connected", "mutual"])
