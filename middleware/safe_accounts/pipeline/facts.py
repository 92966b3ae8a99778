"""Gathering the facts a decision needs, cheapest first, in as few round trips as possible.

Bands come from the band directory (one batched query for all misses); rules are then
narrowed on bands alone; only the survivors ask for relationships (one batched query for
"connected", one per pair for mutual counts, both cached).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..bands.age import AgeBand, Assurance, BandRecord
from ..policy.engine import ALLOW, Party, Relation, RuleSet, Verdict
from ..policy.model import Mode
from ..runtime import Runtime

ANONYMOUS = Party(None, AgeBand.UNKNOWN, Assurance.SELF_DECLARED, False)


def party(record: BandRecord, restricted: bool = False) -> Party:
    return Party(record.account_id, record.band, record.assurance, restricted)


@dataclass(frozen=True, slots=True)
class PairVerdict:
    target: Party
    verdict: Verdict
    relation: Relation


async def parties(rt: Runtime, actor_id: str | None, target_ids: Sequence[str]) -> tuple[Party, list[Party]]:
    ids = list(target_ids) if actor_id is None else [actor_id, *target_ids]
    records = await rt.bands.get_many(ids) if ids else {}
    if actor_id is None:
        actor = ANONYMOUS
    else:
        actor = party(records[actor_id], rt.restrictions.is_restricted(actor_id))
    targets = [party(records[t], rt.restrictions.is_restricted(t)) for t in target_ids]
    return actor, targets


async def judge(rt: Runtime, rules: RuleSet, actor: Party, targets: Sequence[Party]) -> list[PairVerdict]:
    """The verdict for each (actor, target) pair."""
    staged = [(t, rules.candidates(actor, t)) for t in targets]
    connected: frozenset[str] = frozenset()
    if actor.id is not None:
        want = [t.id for t, cands in staged if cands and RuleSet.needs(cands)[0] and t.id is not None]
        if want:
            connected = await rt.relationships.connected_among(actor.id, want)
    out: list[PairVerdict] = []
    for target, cands in staged:
        if not cands:
            out.append(PairVerdict(target, ALLOW, Relation()))
            continue
        needs_connected, needs_mutual = RuleSet.needs(cands)
        mutual = None
        if needs_mutual and actor.id is not None and target.id is not None:
            mutual = await rt.relationships.mutual(actor.id, target.id)
        relation = Relation(
            connected=(target.id in connected) if needs_connected else None, mutual=mutual
        )
        out.append(PairVerdict(target, RuleSet.verdict(cands, relation), relation))
    return out


def strongest(verdicts: Sequence[PairVerdict]) -> PairVerdict | None:
    """The pair whose verdict decides the request: enforced before monitored, then strength."""
    best: PairVerdict | None = None
    for pair in verdicts:
        if pair.verdict.rule is None:
            continue
        if best is None or _rank(pair.verdict) > _rank(best.verdict):
            best = pair
    return best


def _rank(verdict: Verdict) -> tuple[int, int]:
    return (verdict.mode is Mode.ENFORCE, verdict.outcome.strength)
