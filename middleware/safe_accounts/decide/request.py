"""One request's decision: a verdict for each account it names, and the one that decides.

`decide` answers from the in-process caches when they hold every fact the rules need (the
every-day request: no lookup, no timer); otherwise it takes the plain way (`judge.py`):
what is not cached is fetched, within the policy's time budget. Both ways give the same
decision for the same facts (tests/decide/test_paths.py holds them to it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from ..bands.age import unknown
from .budget import within
from .facts import ANONYMOUS, Facts, party, readings_of_accounts
from .judge import judge, parties
from .rules import ALLOW, Lookups, PairVerdict, Party, RuleSet, strongest

NOT_LOOKED_UP = Lookups()


class Decision(NamedTuple):
    """The actor, a verdict per target, and the verdict that decides the request (None when
    no rule applies to any target)."""

    actor: Party
    pairs: list[PairVerdict]
    decisive: PairVerdict | None


async def decide(facts: Facts, rules: RuleSet, actor_id: str | None, target_ids: Sequence[str]) -> Decision:
    """The decision of `rules` on `actor_id` (None: anonymous) acting on `target_ids` (distinct).

    Spellings of one number that name no account beside one that does are not judged as
    accounts of their own, where the band store knows every account (`readings_of_accounts`).
    Raises `StorageError` (`budget.OverBudget` included) when a fact could not be had."""
    known = _from_caches(facts, rules, actor_id, target_ids)
    if known is not None:
        return known
    async with within(facts.time_budget):
        actor, targets = await parties(facts, actor_id, target_ids, fold=True)
        pairs = await judge(facts, rules, actor, targets)
    return Decision(actor, pairs, strongest(pairs))


def undecided(actor_id: str | None, target_ids: Sequence[str]) -> Decision:
    """The decision when no fact is read: every account of `unknown` band, no rule applied.
    What the request path goes on with when a lookup failed and no rule refuses for it
    (`failing.py`), and for accounts it only records (the requesters a contact response
    names in the app's answer)."""
    actor = ANONYMOUS if actor_id is None else party(unknown(actor_id), False)
    return Decision(actor, [PairVerdict(party(unknown(t), False), ALLOW, NOT_LOOKED_UP) for t in target_ids], None)


def _from_caches(
    facts: Facts, rules: RuleSet, actor_id: str | None, target_ids: Sequence[str]
) -> Decision | None:
    """`decide`'s answer from the caches alone, or None on the first fact not cached.

    The path of nearly every request, so written as one loop: band, restriction, phase one
    of the rules, and only then the relationship cache, for the pairs that need it."""
    bands = facts.bands
    cached = bands.cached
    restricted = facts.restrictions.is_restricted
    if actor_id is None:
        actor = ANONYMOUS
    else:
        record = cached(actor_id)
        if record is None:
            return None
        actor = party(record, restricted(actor_id))
    if len(target_ids) > 1 and bands.knows_every_account:
        found = bands.cached_all(target_ids)
        if found is None:
            return None
        target_ids = readings_of_accounts(target_ids, found)
    stage = rules.stage
    relationships = facts.relationships
    pairs: list[PairVerdict] = []
    for account in target_ids:
        record = cached(account)
        if record is None:
            return None
        target = party(record, restricted(account))
        candidates, needs_connected, needs_mutual, needs_age, needs_counts = stage(actor, target)
        if not candidates:
            pairs.append(_new(PairVerdict, (target, ALLOW, NOT_LOOKED_UP)))
            continue
        connected = mutual = age = None
        if actor_id is not None:
            if needs_counts:
                return None  # counts are never cached: the plain way reads them
            if needs_connected:
                connected = relationships.cached_connected(actor_id, account)
                if connected is None:
                    return None
            if needs_mutual:
                mutual = relationships.cached_mutual(actor_id, account)
                if mutual is None:
                    return None
            if needs_age:
                age = facts.accounts.cached_age_days(actor_id)
                if age is None:
                    return None
        lookups = _new(Lookups, (connected, mutual, age, None))
        pairs.append(_new(PairVerdict, (target, RuleSet.verdict(candidates, lookups), lookups)))
    return _new(Decision, (actor, pairs, strongest(pairs)))


# What a NamedTuple's own `__new__` does once it has bound its arguments: called directly
# here, where that binding is most of the cost of a pair (docs/benchmarks.md).
_new = tuple.__new__
