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

ANONYMOUS = Party(None, AgeBand.UNKNOWN, Assurance.SELF_DECLARED, False)


def party(record: BandRecord, restricted: bool = False) -> Party:
    return Party(record.account_id, record.band, record.assurance, restricted)


class PairVerdict(NamedTuple):
    target: Party
    verdict: Verdict
    relation: Relation


def cached_parties(
    rt: Runtime, actor_id: str | None, target_ids: Sequence[str]
) -> tuple[Party, list[Party]] | None:
    """The parties from the band cache alone, or None if any of them is not cached."""
    cached = rt.bands.cached
    restricted = rt.restrictions.is_restricted
    if actor_id is None:
        actor = ANONYMOUS
    else:
        record = cached(actor_id)
        if record is None:
            return None
        actor = Party(record.account_id, record.band, record.assurance, restricted(actor_id))
    targets: list[Party] = []
    for account in target_ids:
        record = cached(account)
        if record is None:
            return None
        targets.append(Party(record.account_id, record.band, record.assurance, restricted(account)))
    return actor, targets


async def parties(rt: Runtime, actor_id: str | None, target_ids: Sequence[str]) -> tuple[Party, list[Party]]:
    ids = list(target_ids) if actor_id is None else [actor_id, *target_ids]
    records = await rt.bands.get_many(ids) if ids else {}
    return _parties(rt, actor_id, target_ids, records)


def _parties(
    rt: Runtime, actor_id: str | None, target_ids: Sequence[str], records: dict[str, BandRecord]
) -> tuple[Party, list[Party]]:
    if actor_id is None:
        actor = ANONYMOUS
    else:
        actor = party(records[actor_id], rt.restrictions.is_restricted(actor_id))
    targets = [party(records[t], rt.restrictions.is_restricted(t)) for t in target_ids]
    return actor, targets


def judge_cached(rt: Runtime, rules: RuleSet, actor: Party, targets: Sequence[Party]) -> list[PairVerdict] | None:
    """The verdicts from cached relationships alone, or None if a needed one is not cached."""
    out: list[PairVerdict] = []
    relationships = rt.relationships
    stage = rules.stage
    for target in targets:
        cands, needs_connected, needs_mutual = stage(actor, target)
        if not cands:
            out.append(PairVerdict(target, ALLOW, _NO_RELATION))
            continue
        connected = mutual = None
        if actor.id is not None and target.id is not None:
            if needs_connected:
                connected = relationships.cached_connected(actor.id, target.id)
                if connected is None:
                    return None
            if needs_mutual:
                mutual = relationships.cached_mutual(actor.id, target.id)
                if mutual is None:
                    return None
        relation = Relation(connected=connected, mutual=mutual)
        out.append(PairVerdict(target, RuleSet.verdict(cands, relation), relation))
    return out


_NO_RELATION = Relation()


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
    """Parties and verdicts from the caches alone (no I/O, no await), or None on any miss."""
    found = cached_parties(rt, actor_id, target_ids)
    if found is None:
        return None
    pairs = judge_cached(rt, rules, found[0], found[1])
    return None if pairs is None else (found[0], pairs)


async def assess(
    rt: Runtime, rules: RuleSet, actor_id: str | None, target_ids: Sequence[str]
) -> tuple[Party, list[PairVerdict]]:
    """Parties and verdicts: from the caches alone when they hold everything (no await, no
    timer), else with the lookups bounded by the policy's time budget."""
    found = cached_parties(rt, actor_id, target_ids)
    if found is not None:
        pairs = judge_cached(rt, rules, *found)
        if pairs is not None:
            return found[0], pairs
    async with asyncio.timeout(rt.policy.defaults.time_budget_ms / 1000):
        actor, targets = found if found is not None else await parties(rt, actor_id, target_ids)
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
