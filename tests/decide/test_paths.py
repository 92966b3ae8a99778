"""The cached way and the plain way decide alike: the cached way is a shortcut, never a
second decision.

`decide` and `decide_page` answer from the caches when they hold every fact, else fetch
what is missing (`decide/judge.py`). Over `Cold(facts)` every cache read misses, so the
plain way runs on the very facts the cached way read. Hypothesis writes the rules (every
kind of condition, every outcome, both modes), the accounts (bands, assurance, no record,
restrictions, ages, numeric spellings of one account), the relationships and the request.
Discovery rules may name kinds of list (`when: {discovery: [...]}`): each kind's rule set,
chosen at start-up, holds the page to the same verdicts as a request naming each account.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safe_accounts.bands.age import AgeBand, Assurance, BandRecord
from safe_accounts.decide.given import GivenFacts
from safe_accounts.decide.page import decide_page
from safe_accounts.decide.request import decide
from safe_accounts.decide.rules import RuleSet, compile_discovery, compile_rule, compile_rules
from safe_accounts.policy.model import (
    Accounts,
    Action,
    Conditions,
    Defaults,
    DiscoveryKind,
    Failure,
    Lookup,
    Mode,
    Outcome,
    PolicyFile,
    Range,
    Rule,
)

from .cold import Cold

T = TypeVar("T")

# Plain ids, and spellings of one number (`010` and ` 10` read as 10 to a typed handler).
ACCOUNTS = ("ann", "bo", "cy", "dee", "ed", "10", "010", " 10", "7")
BAND_NAMES = ("under_13", "13_15", "16_17", "adult", "unknown", "minor")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


bands = st.lists(st.sampled_from(BAND_NAMES), min_size=1, max_size=3, unique=True).map(tuple)
ranges = st.builds(Range, min=_maybe(st.integers(0, 3)), max=_maybe(st.integers(0, 3)))
conditions = st.builds(
    Conditions,
    target_band=_maybe(bands),
    actor_band=_maybe(bands),
    connected=_maybe(st.booleans()),
    mutual_connections=_maybe(ranges),
    actor_assurance_below=_maybe(st.sampled_from([a.value for a in Assurance])),
    target_assurance_below=_maybe(st.sampled_from([a.value for a in Assurance])),
    actor_restricted=_maybe(st.booleans()),
    target_restricted=_maybe(st.booleans()),
    anonymous=_maybe(st.booleans()),
    actor_account_age_days=_maybe(ranges),
)


@st.composite
def rule_sets(draw: st.DrawFn) -> RuleSet:
    rules = []
    for index in range(draw(st.integers(1, 6))):
        rule = Rule(
            id=f"rule-{index}",
            action=Action.DIRECT_MESSAGE,
            when=draw(conditions),
            then=draw(st.sampled_from([o for o in Outcome if o is not Outcome.ALLOW])),
            reason="because",
            mode=draw(st.sampled_from(Mode)),
        )
        rules.append(
            compile_rule(
                rule, policy_mode=Mode.ENFORCE, on_failure=Failure.CLOSED,
                unknown_is_minor=draw(st.booleans()),
            )
        )
    return RuleSet(Action.DIRECT_MESSAGE, rules)


@st.composite
def facts(draw: st.DrawFn) -> GivenFacts:
    recorded = draw(st.lists(st.sampled_from(ACCOUNTS), unique=True))
    records = {
        account: BandRecord(
            account, draw(st.sampled_from(AgeBand)), draw(st.sampled_from(Assurance)), "given"
        )
        for account in recorded
    }
    pairs = st.tuples(st.sampled_from(ACCOUNTS), st.sampled_from(ACCOUNTS)).map(frozenset)
    return GivenFacts(
        records=records,
        restricted=frozenset(draw(st.lists(st.sampled_from(ACCOUNTS)))),
        connections=frozenset(draw(st.lists(pairs))),
        mutual_counts=draw(st.dictionaries(pairs, st.integers(0, 4))),
        ages=draw(st.dictionaries(st.sampled_from(ACCOUNTS), st.floats(0, 5, allow_nan=False))),
        knows_every_account=draw(st.booleans()),
    )


actors = st.none() | st.sampled_from(ACCOUNTS)
targets = st.lists(st.sampled_from(ACCOUNTS), unique=True, max_size=6)
examples = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@examples
@given(rules=rule_sets(), given_facts=facts(), actor=actors, named=targets)
def test_a_request_is_decided_alike_from_the_caches_and_by_fetching(
    rules: RuleSet, given_facts: GivenFacts, actor: str | None, named: list[str]
) -> None:
    named = [t for t in named if t != actor]
    cached = run(decide(given_facts, rules, actor, named))
    fetched = run(decide(Cold(given_facts), rules, actor, named))
    assert cached == fetched


@examples
@given(rules=rule_sets(), given_facts=facts(), actor=actors, listed=targets, with_targets=st.booleans())
def test_a_page_is_decided_alike_from_the_caches_and_by_fetching(
    rules: RuleSet, given_facts: GivenFacts, actor: str | None, listed: list[str], with_targets: bool
) -> None:
    cached = run(decide_page(given_facts, rules, actor, listed, with_targets=with_targets))
    fetched = run(decide_page(Cold(given_facts), rules, actor, listed, with_targets=with_targets))
    assert cached == fetched


@examples
@given(rules=rule_sets(), given_facts=facts(), actor=actors, listed=targets)
def test_each_listed_account_gets_the_verdict_a_request_naming_it_alone_gets(
    rules: RuleSet, given_facts: GivenFacts, actor: str | None, listed: list[str]
) -> None:
    page = run(decide_page(given_facts, rules, actor, listed))
    for account in listed:
        alone = run(decide(given_facts, rules, actor, [account] if account != actor else []))
        decisive = alone.decisive
        assert page.ruled.get(account) == decisive, account


kinds = st.lists(st.sampled_from(DiscoveryKind), min_size=1, max_size=2, unique=True).map(tuple)


@st.composite
def discovery_policies(draw: st.DrawFn) -> PolicyFile:
    """Discovery rules of every kind of condition, some of them about kinds of list only."""
    rules = tuple(
        Rule(
            id=f"rule-{index}",
            action=Action.DISCOVERY,
            when=draw(conditions).model_copy(update={"discovery": draw(_maybe(kinds))}),
            then=draw(st.sampled_from([o for o in Outcome if o is not Outcome.ALLOW])),
            reason="because",
            mode=draw(st.sampled_from(Mode)),
        )
        for index in range(draw(st.integers(1, 6)))
    )
    return PolicyFile(
        version=1, name="kinds", rules=rules, defaults=Defaults(unknown_age=draw(st.sampled_from(["minor", "adult"]))),
        accounts=Accounts(created_at=Lookup(sql="SELECT created_at FROM users WHERE id = :account")),
    )


@examples
@given(
    policy=discovery_policies(), kind=st.none() | st.sampled_from(DiscoveryKind), given_facts=facts(),
    actor=actors, listed=targets,
)
def test_a_list_of_each_kind_is_judged_on_the_page_as_each_account_alone_and_from_the_caches_as_by_fetching(
    policy: PolicyFile, kind: DiscoveryKind | None, given_facts: GivenFacts, actor: str | None, listed: list[str]
) -> None:
    rules = compile_rules(policy)[Action.DISCOVERY] if kind is None else compile_discovery(policy)[kind]
    # The kind's rules: those that name no kind, and those that name it.
    assert [r.id for r in rules.rules] == [
        r.id for r in RuleSet(Action.DISCOVERY, [
            compile_rule(rule, policy_mode=policy.mode, on_failure=Failure.CLOSED, unknown_is_minor=True)
            for rule in policy.rules
            if rule.when.discovery is None or (kind is not None and kind in rule.when.discovery)
        ]).rules
    ]
    page = run(decide_page(given_facts, rules, actor, listed))
    assert run(decide_page(Cold(given_facts), rules, actor, listed)) == page
    for account in listed:
        alone = run(decide(given_facts, rules, actor, [account] if account != actor else []))
        assert page.ruled.get(account) == alone.decisive, account
