"""Gathering the facts a decision needs, cheapest first, in as few round trips as possible.

Bands come from the band directory (one batched query for all misses); rules are then
narrowed on bands alone; only the survivors ask for relationships (one batched query for
"connected", one per pair for mutual counts, both cached).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import NamedTuple

from ..bands.age import AgeBand, Assurance, BandRecord
from ..policy.engine import ALLOW, Party, Relation, RuleSet, Verdict
from ..runtime import Runtime
from ..decide.ids import canonical

ANONYMOUS = Party(None, AgeBand.UNKNOWN, Assurance.SELF_DECLARED, False)


def party(record: BandRecord, restricted: bool = False) -> Party:
    return Party(record.account_id, record.band, record.assurance, restricted)


class PairVerdict(NamedTuple):
    target: Party
    verdict: Verdict
    relation: Relation


def readings_of_accounts(target_ids: Sequence[str], records: Sequence[BandRecord]) -> list[str]:
    """`target_ids` without the spellings that name no account where another spelling of the
    same number does: `010` beside an existing `10` is how a typed handler writes account 10,
    not a second account of unknown age. Only for a store that knows every account (the
    app's own users table); spellings of which none exists all stay (unknown, protected)."""
    present = {canonical(a) for a, record in zip(target_ids, records, strict=True) if record.exists}
    if not present:
        return list(target_ids)
    return [
        account for account, record in zip(target_ids, records, strict=True)
        if record.exists or canonical(account) not in present
    ]


async def parties(rt: Runtime, actor_id: str | None, target_ids: Sequence[str]) -> tuple[Party, list[Party]]:
    ids = list(target_ids) if actor_id is None else [actor_id, *target_ids]
    records = await rt.bands.get_many(ids) if ids else {}
    if len(target_ids) > 1 and rt.bands.knows_every_account:
        target_ids = readings_of_accounts(target_ids, [records[t] for t in target_ids])
    restricted = rt.restrictions.is_restricted
    actor = ANONYMOUS if actor_id is None else party(records[actor_id], restricted(actor_id))
    return actor, [party(records[t], restricted(t)) for t in target_ids]


_NO_RELATION = Relation()

# What a NamedTuple's own `__new__` does once it has bound its arguments: called directly on
# the request path, where that binding is most of the cost of building a party (docs/benchmarks.md).
_new = tuple.__new__


async def judge(rt: Runtime, rules: RuleSet, actor: Party, targets: Sequence[Party]) -> list[PairVerdict]:
    """The verdict for each (actor, target) pair."""
    staged = [(t, rules.stage(actor, t)) for t in targets]
    connected: frozenset[str] = frozenset()
    if actor.id is not None:
        want = [t.id for t, st in staged if st.needs_connected and t.id is not None]
        if want:
            connected = await rt.relationships.connected_among(actor.id, want)
    out: list[PairVerdict] = []
    for target, (cands, needs_connected, needs_mutual) in staged:
        if not cands:
            out.append(PairVerdict(target, ALLOW, _NO_RELATION))
            continue
        mutual = None
        if needs_mutual and actor.id is not None and target.id is not None:
            mutual = await rt.relationships.mutual(actor.id, target.id)
        relation = Relation(
            connected=(target.id in connected) if needs_connected else None, mutual=mutual
        )
        out.append(PairVerdict(target, RuleSet.verdict(cands, relation), relation))
    return out


def assess_cached(
    rt: Runtime, rules: RuleSet, actor_id: str | None, target_ids: Sequence[str]
) -> tuple[Party, list[PairVerdict]] | None:
    """Parties and verdicts from the caches alone (no I/O, no await), or None on any miss.

    The path of nearly every request, so written as one loop: bands, restriction, phase
    one of the rules, and only then the relationship cache for the pairs that need it."""
    cached = rt.bands.cached
    restricted = rt.restrictions.is_restricted
    if actor_id is None:
        actor = ANONYMOUS
    else:
        record = cached(actor_id)
        if record is None:
            return None
        actor = _new(Party, (record.account_id, record.band, record.assurance, restricted(actor_id)))
    if len(target_ids) > 1 and rt.bands.knows_every_account:
        found = rt.bands.cached_all(target_ids)
        if found is None:
            return None
        target_ids = readings_of_accounts(target_ids, found)
    stage = rules.stage
    pairs: list[PairVerdict] = []
    for account in target_ids:
        record = cached(account)
        if record is None:
            return None
        target = _new(Party, (record.account_id, record.band, record.assurance, restricted(account)))
        candidates, needs_connected, needs_mutual = stage(actor, target)
        if not candidates:
            pairs.append(_new(PairVerdict, (target, ALLOW, _NO_RELATION)))
            continue
        connected = mutual = None
        if actor_id is not None:
            if needs_connected:
                connected = rt.relationships.cached_connected(actor_id, account)
                if connected is None:
                    return None
            if needs_mutual:
                mutual = rt.relationships.cached_mutual(actor_id, account)
                if mutual is None:
                    return None
        relation = _new(Relation, (connected, mutual))
        pairs.append(_new(PairVerdict, (target, RuleSet.verdict(candidates, relation), relation)))
    return actor, pairs


async def assess(
    rt: Runtime, rules: RuleSet, actor_id: str | None, target_ids: Sequence[str]
) -> tuple[Party, list[PairVerdict]]:
    """Parties and verdicts: from the caches alone when they hold everything (no timer),
    else with the lookups bounded by the policy's time budget."""
    known = assess_cached(rt, rules, actor_id, target_ids)
    if known is not None:
        return known
    async with asyncio.timeout(rt.policy.defaults.time_budget_ms / 1000):
        actor, targets = await parties(rt, actor_id, target_ids)
        return actor, await judge(rt, rules, actor, targets)


def strongest(verdicts: Sequence[PairVerdict]) -> PairVerdict | None:
    """The pair whose verdict decides the request: enforced before monitored, then strength."""
    best: PairVerdict | None = None
    for pair in verdicts:
        if pair.verdict.rule is None:
            continue
        if best is None or pair.verdict.rank > best.verdict.rank:
            best = pair
    return best
