"""A page's decision: the verdict for each account the app's answer lists (a search page).

A page names tens of accounts, nearly all of them cached: their bands in the band cache,
the viewer's relationships to them in the relationship cache. From the caches, the page is
judged in one pass: with the actor fixed, phase one (`RuleSet.stage`) depends only on the
target's band, assurance and restriction, so it is asked once per combination on the page;
phase two (`RuleSet.verdict`) depends only on that stage and what was looked up, so it is
asked once per (stage, lookups). A listed account no rule concerns costs a band lookup and
two dict lookups: no party and no pair verdict is made for it. Anything not cached: the
plain way (`judge.py`), within the time budget, to the same verdicts (tests/decide/test_paths.py).

Each listed id is judged as the account it names: an item is what the app listed, so no
spelling is folded into another (`decide` folds them for a request's own targets).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from ..bands.age import AgeBand, Assurance
from .budget import within
from .facts import ANONYMOUS, Facts, party
from .judge import judge, parties
from .rules import Lookups, PairVerdict, Party, RuleSet, Stage, Verdict

_UNSEEN: Any = object()


class Page(NamedTuple):
    """The verdicts of one page: only the pairs a rule applies to (every other account is
    allowed), and, when asked for, every listed party in the order of the ids."""

    ruled: dict[str, PairVerdict]
    targets: list[Party] | None


async def decide_page(
    facts: Facts, rules: RuleSet, actor_id: str | None, target_ids: Sequence[str], *, with_targets: bool = False
) -> Page:
    """The verdicts of `rules` on `actor_id` (None: anonymous) viewing the accounts
    `target_ids` (distinct). Raises `StorageError` when a fact could not be had."""
    known = _from_caches(facts, rules, actor_id, target_ids, with_targets)
    if known is not None:
        return known
    async with within(facts.time_budget):
        actor, targets = await parties(facts, actor_id, target_ids, fold=False)
        pairs = await judge(facts, rules, actor, targets)
    ruled = {p.target.id: p for p in pairs if p.verdict.rule is not None and p.target.id is not None}
    return Page(ruled, targets if with_targets else None)


def _from_caches(
    facts: Facts, rules: RuleSet, actor_id: str | None, target_ids: Sequence[str], with_targets: bool
) -> Page | None:
    """`decide_page`'s answer from the caches alone; None as soon as a band or a needed
    relationship is not cached."""
    bands = facts.bands
    is_restricted = facts.restrictions.is_restricted
    if actor_id is None:
        actor = ANONYMOUS
    else:
        record = bands.cached(actor_id)
        if record is None:
            return None
        actor = party(record, is_restricted(actor_id))
    records = bands.cached_all(target_ids)
    if records is None:
        return None
    relationships = facts.relationships
    stage = rules.stage
    verdict = RuleSet.verdict
    # Per page, not per process: the stages belong to this actor. None: no rule applies.
    stages: dict[tuple[AgeBand, Assurance, bool], Stage | None] = {}
    verdicts: dict[tuple[int, bool | None, int | None, float | None], tuple[Lookups, Verdict]] = {}
    age: float | None = None  # the actor's account age, read once for the page
    ruled: dict[str, PairVerdict] = {}
    targets: list[Party] | None = [] if with_targets else None
    for target_id, record in zip(target_ids, records, strict=True):
        restricted = is_restricted(target_id)
        if target_id == actor_id:  # an account acting on itself: no rule
            if targets is not None:
                targets.append(party(record, restricted))
            continue
        key = (record.band, record.assurance, restricted)
        staged = stages.get(key, _UNSEEN)
        if staged is _UNSEEN:
            # Phase one reads the target's band, assurance and restriction, never its id
            # (`RuleSet.stage` memoises on those alone): one target stands for all alike.
            found = stage(actor, party(record, restricted))
            staged = stages[key] = found if found.rules else None
        if staged is None:
            if targets is not None:
                targets.append(party(record, restricted))
            continue
        connected = mutual = None
        if actor_id is not None:
            if staged.needs_connected:
                connected = relationships.cached_connected(actor_id, target_id)
                if connected is None:
                    return None
            if staged.needs_mutual:
                mutual = relationships.cached_mutual(actor_id, target_id)
                if mutual is None:
                    return None
            if staged.needs_counts:
                return None  # counts are never cached: the plain way reads them
            if staged.needs_actor_age and age is None:
                age = facts.accounts.cached_age_days(actor_id)
                if age is None:
                    return None
        pair_age = age if staged.needs_actor_age and actor_id is not None else None
        vkey = (id(staged), connected, mutual, pair_age)
        known = verdicts.get(vkey)
        if known is None:
            lookups = Lookups(connected, mutual, pair_age)
            known = verdicts[vkey] = (lookups, verdict(staged.rules, lookups))
        lookups, decided = known
        if decided.rule is None and targets is None:
            continue
        target = party(record, restricted)
        if decided.rule is not None:
            ruled[target_id] = PairVerdict(target, decided, lookups)
        if targets is not None:
            targets.append(target)
    return Page(ruled, targets)
