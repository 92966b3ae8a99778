"""Verdicts for a page of listed accounts in one pass, from the in-process caches alone.

A search page names tens of accounts, nearly all of them cached: their bands in the band
cache, the viewer's relationships to them in the relationship cache. `facts.assess`
answers for such a page with a party and a pair verdict per account; this pass gives the
same answers for less. With the actor fixed, phase one (`RuleSet.stage`) depends only on
the target's band, assurance and restriction, so it is asked once per combination on the
page; phase two (`RuleSet.verdict`) depends only on that stage and the relation, so it is
asked once per (stage, relation). A listed account no rule concerns costs a band lookup
and two dict lookups: no party, no relation, no pair verdict is made for it.

When anything is not cached this answers None, and the caller takes the general path
(`facts.assess`), which fetches what is missing within the time budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from ..bands.age import AgeBand, Assurance
from ..policy.engine import Party, Relation, RuleSet, Stage, Verdict
from ..runtime import Runtime
from .facts import ANONYMOUS, PairVerdict, party

_UNSEEN: Any = object()


class Page(NamedTuple):
    """The verdicts of one page: only the pairs a rule applies to (the others are allowed),
    and, when asked for, every listed party in the order of the ids."""

    ruled: dict[str, PairVerdict]
    targets: list[Party] | None


def cached_actor(rt: Runtime, actor_id: str | None) -> Party | None:
    """The acting party from the band cache alone (anonymous for no id); None when not cached."""
    if actor_id is None:
        return ANONYMOUS
    record = rt.bands.cached(actor_id)
    if record is None:
        return None
    return party(record, rt.restrictions.is_restricted(actor_id))


def cached_page(
    rt: Runtime,
    rules: RuleSet,
    actor: Party,
    target_ids: Sequence[str],
    *,
    with_targets: bool = False,
) -> Page | None:
    """What `facts.assess` would answer for `target_ids` (distinct), from the caches alone;
    None as soon as a band or a needed relationship is not cached."""
    records = rt.bands.cached_all(target_ids)
    if records is None:
        return None
    is_restricted = rt.restrictions.is_restricted
    relationships = rt.relationships
    stage = rules.stage
    verdict = RuleSet.verdict
    actor_id = actor.id
    # Per page, not per process: the stages belong to this actor. None: no rule applies.
    stages: dict[tuple[AgeBand, Assurance, bool], Stage | None] = {}
    verdicts: dict[tuple[int, bool | None, int | None], tuple[Relation, Verdict]] = {}
    ruled: dict[str, PairVerdict] = {}
    targets: list[Party] | None = [] if with_targets else None
    for target_id, record in zip(target_ids, records):
        restricted = is_restricted(target_id)
        key = (record.band, record.assurance, restricted)
        staged = stages.get(key, _UNSEEN)
        if staged is _UNSEEN:
            # Phase one reads the target's band, assurance and restriction, never its id
            # (`RuleSet.stage` memoises on those alone): an id-less target stands for all.
            found = stage(actor, Party(None, record.band, record.assurance, restricted))
            staged = stages[key] = found if found.rules else None
        if staged is None or target_id == actor_id:  # an account acting on itself: no rule
            if targets is not None:
                targets.append(Party(record.account_id, record.band, record.assurance, restricted))
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
        vkey = (id(staged), connected, mutual)
        known = verdicts.get(vkey)
        if known is None:
            relation = Relation(connected=connected, mutual=mutual)
            known = verdicts[vkey] = (relation, verdict(staged.rules, relation))
        relation, decided = known
        if decided.rule is None and targets is None:
            continue
        target = Party(record.account_id, record.band, record.assurance, restricted)
        if decided.rule is not None:
            ruled[target_id] = PairVerdict(target, decided, relation)
        if targets is not None:
            targets.append(target)
    return Page(ruled, targets)
