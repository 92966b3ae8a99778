"""The rules of a policy, compiled once per action, applied to facts about a pair of parties.

Evaluation is two-phase so that the cheap facts come first. Phase one reads what every
party carries (band, assurance, restriction, anonymity: in-process caches, no I/O); only
the rules that survive it ask phase two's facts, each of which may cost a lookup (whether
the pair is connected, their mutual connections, how old the actor's account is, the
actor's counts under the policy's count signals). An adult
messaging an adult never needs a lookup at all.

A condition is a function of one phase's facts, compiled here from the policy model's
`Conditions`; `decide` gathers for each pair the facts its surviving rules need.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from ..bands.age import AgeBand, Assurance, expand_bands
from ..policy.model import Action, Conditions, DiscoveryKind, Failure, Mode, Outcome, PolicyFile, Range, Rule

# Parties, lookups and verdicts are made per listed account on the request path:
# NamedTuples, because creating one costs a fraction of a frozen dataclass.


class Party(NamedTuple):
    """One side of a decision: an account (or anonymous), its band and assurance, and whether
    it is restricted: phase one's facts. Built by `facts.party` alone."""

    id: str | None
    band: AgeBand
    assurance: Assurance = Assurance.SELF_DECLARED
    restricted: bool = False


class Lookups(NamedTuple):
    """Phase two's facts about a pair: what was looked up for it (None: not looked up)."""

    connected: bool | None = None
    mutual: int | None = None
    actor_age_days: float | None = None
    # The actor's counts under the count signals a rule reads, by signal id.
    actor_counts: Mapping[str, int] | None = None


def _in_range(value: float, bounds: Range) -> bool:
    return (bounds.min is None or value >= bounds.min) and (bounds.max is None or value <= bounds.max)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: str
    outcome: Outcome
    mode: Mode
    on_failure: Failure
    reason: str
    needs_connected: bool
    needs_mutual: bool
    # Phase one: only bands, assurance, restriction and anonymity.
    cheap: Callable[[Party, Party], bool]
    # Phase two: what is looked up.
    looked_up: Callable[[Lookups], bool]
    # What the actor is told when this rule refuses them, if not `reason`: a rule on
    # restricted accounts tells the policy's neutral `moderation.restricted_notice`.
    told: str | None = None
    needs_actor_age: bool = False
    # The count signals whose actor's count this rule reads (`actor_count`).
    needs_counts: frozenset[str] = frozenset()
    # Its `actor_count` condition alone, over the actor's counts: read before the
    # relationship, so a rule whose count is not reached asks nothing of the host's tables.
    counted: Callable[[Mapping[str, int]], bool] = lambda counts: True
    # The share of this `allow` rule's decisions the log keeps when they change nothing
    # (`log.sample`, below 1); None: every one.
    sample: float | None = None
    # The verdict this rule gives when it applies: built once, not per decision.
    verdict: Verdict = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdict", Verdict(self.outcome, self))

    @property
    def detail(self) -> str:
        """The problem's `detail` when this rule refuses the actor."""
        return self.reason if self.told is None else self.told

    @property
    def public_id(self) -> str | None:
        """The rule id the actor may see: none for a rule on restricted accounts, whose id
        would say what its reason does not (the decision id still finds the row)."""
        return self.id if self.told is None else None

    @property
    def refuses_on_failure(self) -> bool:
        """Whether a failed lookup this rule needed refuses the request (503): enforced and closed."""
        return self.mode is Mode.ENFORCE and self.on_failure is Failure.CLOSED


# Conditions are joined without a generator per call: a rule has one or two conditions of a
# kind, and `all(check(...) for ...)` would cost more than the checks themselves.
def _all_of2(checks: list[Callable[[Party, Party], bool]]) -> Callable[[Party, Party], bool]:
    if not checks:
        return lambda a, t: True
    if len(checks) == 1:
        return checks[0]
    first, rest = checks[0], _all_of2(checks[1:])
    return lambda a, t: first(a, t) and rest(a, t)


def _all_of1(checks: list[Callable[[Lookups], bool]]) -> Callable[[Lookups], bool]:
    if not checks:
        return lambda r: True
    if len(checks) == 1:
        return checks[0]
    first, rest = checks[0], _all_of1(checks[1:])
    return lambda r: first(r) and rest(r)


def _compile_cheap(when: Conditions, unknown_is_minor: bool) -> Callable[[Party, Party], bool]:
    checks: list[Callable[[Party, Party], bool]] = []
    if when.target_band is not None:
        target_bands = expand_bands(when.target_band, unknown_is_minor=unknown_is_minor)
        checks.append(lambda a, t: t.band in target_bands)
    if when.actor_band is not None:
        actor_bands = expand_bands(when.actor_band, unknown_is_minor=unknown_is_minor)
        checks.append(lambda a, t: a.band in actor_bands)
    if when.actor_assurance_below is not None:
        rank = Assurance(when.actor_assurance_below).rank
        checks.append(lambda a, t: a.assurance.rank < rank)
    if when.target_assurance_below is not None:
        trank = Assurance(when.target_assurance_below).rank
        checks.append(lambda a, t: t.assurance.rank < trank)
    if when.actor_restricted is not None:
        wanted = when.actor_restricted
        checks.append(lambda a, t: a.restricted is wanted)
    if when.target_restricted is not None:
        target_wanted = when.target_restricted
        checks.append(lambda a, t: t.restricted is target_wanted)
    if when.anonymous is not None:
        anonymous = when.anonymous
        checks.append(lambda a, t: (a.id is None) is anonymous)
    return _all_of2(checks)


def _compile_looked_up(when: Conditions) -> Callable[[Lookups], bool]:
    checks: list[Callable[[Lookups], bool]] = []
    if when.connected is not None:
        wanted = when.connected
        # Unknown (no relationship source configured) counts as "not connected": protective.
        checks.append(lambda r: bool(r.connected) is wanted)
    if when.mutual_connections is not None:
        bounds = when.mutual_connections
        checks.append(lambda r: _in_range(r.mutual or 0, bounds))
    if when.actor_account_age_days is not None:
        age_bounds = when.actor_account_age_days
        # No date (or no account: anonymous) counts as created now: the newest there is.
        checks.append(lambda r: _in_range(r.actor_age_days or 0.0, age_bounds))
    if when.actor_count is not None:
        signal, least = when.actor_count.signal, when.actor_count.min
        # Not looked up (an anonymous actor) counts as 0: nobody is capped on nothing.
        checks.append(lambda r: (r.actor_counts or {}).get(signal, 0) >= least)
    return _all_of1(checks)


def _compile_counted(when: Conditions) -> Callable[[Mapping[str, int]], bool]:
    if when.actor_count is None:
        return lambda counts: True
    signal, least = when.actor_count.signal, when.actor_count.min
    return lambda counts: counts.get(signal, 0) >= least


def compile_rule(
    rule: Rule,
    *,
    policy_mode: Mode,
    on_failure: Failure,
    unknown_is_minor: bool,
    restricted_notice: str | None = None,
) -> CompiledRule:
    """`restricted_notice`: what a rule on restricted actors (`actor_restricted: true`) tells
    them instead of its reason (None: its reason)."""
    return CompiledRule(
        told=restricted_notice if rule.when.actor_restricted else None,
        id=rule.id,
        outcome=rule.then,
        mode=rule.mode or policy_mode,
        on_failure=rule.on_failure or on_failure,
        reason=rule.reason,
        needs_connected=rule.when.connected is not None,
        needs_mutual=rule.when.mutual_connections is not None,
        needs_actor_age=rule.when.actor_account_age_days is not None,
        needs_counts=frozenset(() if rule.when.actor_count is None else (rule.when.actor_count.signal,)),
        counted=_compile_counted(rule.when),
        cheap=_compile_cheap(rule.when, unknown_is_minor),
        looked_up=_compile_looked_up(rule.when),
        sample=rule.log.sample if rule.log is not None and rule.log.sample < 1 else None,
    )


class Verdict(NamedTuple):
    """The strongest applying rule (or none) for one pair."""

    outcome: Outcome
    rule: CompiledRule | None

    @property
    def mode(self) -> Mode:
        return Mode.ENFORCE if self.rule is None else self.rule.mode

    @property
    def rank(self) -> tuple[bool, int]:
        """Which of two verdicts decides a request: enforced before monitored, then strength."""
        return (self.mode is Mode.ENFORCE, self.outcome.strength)


ALLOW = Verdict(Outcome.ALLOW, None)


class Stage(NamedTuple):
    """Phase one's answer for a pair."""

    rules: tuple[CompiledRule, ...]
    needs_connected: bool
    needs_mutual: bool
    needs_actor_age: bool
    needs_counts: frozenset[str] = frozenset()


NOTHING = Stage((), False, False, False)


def counted(stage: Stage, counts: Mapping[str, int]) -> Stage:
    """`stage` without the candidates whose `actor_count` the actor has not reached, and
    asking only what the rest need: the cap on strangers' requests costs no relationship
    lookup until an actor comes near it."""
    if not stage.needs_counts:
        return stage
    rules = tuple(r for r in stage.rules if r.counted(counts))
    if len(rules) == len(stage.rules):
        return stage
    return Stage(
        rules,
        any(r.needs_connected for r in rules),
        any(r.needs_mutual for r in rules),
        any(r.needs_actor_age for r in rules),
        frozenset().union(*(r.needs_counts for r in rules)),
    )


def _up_to_the_first_certain(rules: tuple[CompiledRule, ...]) -> tuple[CompiledRule, ...]:
    """The candidates that can still be the verdict: those before the first one that asks
    nothing of the relationship (it applies for sure, so none after it can win). No
    relationship is looked up for a rule that cannot decide, so a lookup only a monitor
    rule wanted can never fail an enforced decision made without it."""
    for index, rule in enumerate(rules):
        if not (rule.needs_connected or rule.needs_mutual or rule.needs_actor_age or rule.needs_counts):
            return rules[: index + 1]
    return rules


class RuleSet:
    """The enabled rules of one action, strongest outcome first."""

    __slots__ = ("action", "rules", "fails_closed", "_memo")

    def __init__(self, action: Action, rules: Iterable[CompiledRule]) -> None:
        self.action = action
        # Enforced rules first, strongest first: the first rule that applies is the verdict.
        # A monitor rule is the verdict only when no enforced rule applies, so switching a
        # rule to monitor can never weaken another rule's enforcement.
        self.rules = tuple(
            sorted(rules, key=lambda r: (r.mode is Mode.MONITOR, -r.outcome.strength))
        )
        # Only an enforced rule may refuse when a lookup fails: a monitor rule decides and
        # logs, and never changes a response, not even by making a store failure a 503.
        self.fails_closed = any(r.refuses_on_failure for r in self.rules)
        # Phase one depends only on a handful of small enums and flags, so its answer is
        # memoised per combination: at most a few thousand entries, each computed once.
        self._memo: dict[tuple[object, ...], Stage] = {}

    def stage(self, actor: Party, target: Party) -> Stage:
        """Phase one: the rules whose cheap conditions hold, and what phase two will need."""
        # Indexing rather than attribute names: this runs for every pair of every request.
        actor_id = actor[0]
        if actor_id is not None and actor_id == target[0]:
            return NOTHING  # a rule about a pair never applies to an account acting on itself
        # (band, assurance, restricted) of each side, and whether the actor is anonymous.
        key = (actor[1:], actor_id is None, target[1:])
        found = self._memo.get(key)
        if found is None:
            rules = _up_to_the_first_certain(tuple(r for r in self.rules if r.cheap(actor, target)))
            found = self._memo[key] = Stage(
                rules,
                any(r.needs_connected for r in rules),
                any(r.needs_mutual for r in rules),
                any(r.needs_actor_age for r in rules),
                frozenset().union(*(r.needs_counts for r in rules)),
            )
        return found

    @staticmethod
    def verdict(candidates: tuple[CompiledRule, ...], lookups: Lookups) -> Verdict:
        """Phase two: the strongest candidate whose looked-up conditions hold."""
        for rule in candidates:
            if rule.looked_up(lookups):
                return rule.verdict
        return ALLOW


class PairVerdict(NamedTuple):
    """The verdict for one target of a request, and what was looked up to reach it."""

    target: Party
    verdict: Verdict
    lookups: Lookups


def strongest(pairs: Iterable[PairVerdict]) -> PairVerdict | None:
    """The pair whose verdict decides the request (None: no rule applies to any): enforced
    before monitored, then the strongest outcome."""
    best: PairVerdict | None = None
    for pair in pairs:
        if pair.verdict.rule is None:
            continue
        if best is None or pair.verdict.rank > best.verdict.rank:
            best = pair
    return best


def compile_rules(policy: PolicyFile) -> Mapping[Action, RuleSet]:
    """The enabled rules of `policy`, as one rule set per action (empty for an action no
    rule is about). Discovery's is the set for lists of no kind: its rules that name no
    kind of list (`compile_discovery` gives each kind's)."""
    return {action: _rule_set(policy, action, None) for action in Action}


def compile_discovery(
    policy: PolicyFile, kindless: RuleSet | None = None
) -> Mapping[DiscoveryKind, RuleSet]:
    """The discovery rule set of each kind of list (`Route.discovery`): the rules that name
    no kind and those that name it. A kind no rule names shares `kindless` (the rule set of
    lists of no kind), memo and all."""
    named = {
        kind for rule in policy.rules if rule.enabled and rule.when.discovery is not None
        for kind in rule.when.discovery
    }
    if kindless is None:
        kindless = _rule_set(policy, Action.DISCOVERY, None)
    return {
        kind: _rule_set(policy, Action.DISCOVERY, kind) if kind in named else kindless for kind in DiscoveryKind
    }


def _rule_set(policy: PolicyFile, action: Action, kind: DiscoveryKind | None) -> RuleSet:
    unknown_is_minor = policy.defaults.unknown_age == "minor"
    return RuleSet(
        action,
        [
            compile_rule(
                rule, policy_mode=policy.mode, on_failure=policy.defaults.on_failure,
                unknown_is_minor=unknown_is_minor, restricted_notice=policy.moderation.restricted_notice,
            )
            for rule in policy.rules
            if rule.enabled and _covers(rule.action, action) and _lists(rule.when.discovery, kind)
        ],
    )


def _covers(actions: Action | tuple[Action, ...], action: Action) -> bool:
    return action == actions if isinstance(actions, Action) else action in actions


def _lists(kinds: tuple[DiscoveryKind, ...] | None, kind: DiscoveryKind | None) -> bool:
    """Whether a rule about the lists `kinds` (None: any) applies to a list of `kind`
    (None: a list of no kind)."""
    return kinds is None or (kind is not None and kind in kinds)
