"""The plain way to decide: every fact fetched that is not cached, each pair judged.

Bands come in one fetch for every account of the request; the rules are then narrowed on
bands alone (phase one), and only the pairs whose surviving rules ask for them get
relationships: the actor's signal counts first (a rule whose count is not reached is dropped
before anything else is fetched for it), then one fetch for "connected" over all of them,
one per pair for mutual counts, and the actor's account age once.
The caller bounds it all with the policy's time budget.
"""

from __future__ import annotations

from collections.abc import Sequence

from .facts import ANONYMOUS, Facts, party, readings_of_accounts
from .rules import ALLOW, Lookups, PairVerdict, Party, RuleSet, counted

NOT_LOOKED_UP = Lookups()


async def parties(
    facts: Facts, actor_id: str | None, target_ids: Sequence[str], *, fold: bool
) -> tuple[Party, list[Party]]:
    """The actor and the targets as parties. `fold`: drop the spellings that name no account
    beside one that does (`readings_of_accounts`), where the band store can tell."""
    ids = list(target_ids) if actor_id is None else [actor_id, *target_ids]
    records = await facts.bands.get_many(ids) if ids else {}
    if fold and len(target_ids) > 1 and facts.bands.knows_every_account:
        target_ids = readings_of_accounts(target_ids, [records[t] for t in target_ids])
    restricted = facts.restrictions.is_restricted
    actor = ANONYMOUS if actor_id is None else party(records[actor_id], restricted(actor_id))
    return actor, [party(records[t], restricted(t)) for t in target_ids]


async def judge(facts: Facts, rules: RuleSet, actor: Party, targets: Sequence[Party]) -> list[PairVerdict]:
    """The verdict for each (actor, target) pair, looking up what the surviving rules need."""
    staged = [(t, rules.stage(actor, t)) for t in targets]
    relationships = facts.relationships
    connected: frozenset[str] = frozenset()
    age: float | None = None
    counts: dict[str, int] = {}
    if actor.id is not None:
        # Counts first: a rule whose count the actor has not reached needs nothing more.
        for signal in sorted(frozenset().union(*(st.needs_counts for _, st in staged))):
            counts[signal] = await facts.counts.count(actor.id, signal)
        if counts:
            staged = [(t, counted(st, counts)) for t, st in staged]
        want = [t.id for t, st in staged if st.needs_connected and t.id is not None]
        if want:
            connected = await relationships.connected_among(actor.id, want)
        if any(st.needs_actor_age for _, st in staged):
            age = await facts.accounts.age_days(actor.id)
    out: list[PairVerdict] = []
    for target, (candidates, needs_connected, needs_mutual, needs_age, needs_counts) in staged:
        if not candidates:
            out.append(PairVerdict(target, ALLOW, NOT_LOOKED_UP))
            continue
        # Nothing is looked up for an anonymous actor: no relationship, as the caches say.
        is_connected = mutual = None
        if actor.id is not None and target.id is not None:
            if needs_connected:
                is_connected = target.id in connected
            if needs_mutual:
                mutual = await relationships.mutual(actor.id, target.id)
        lookups = Lookups(
            connected=is_connected, mutual=mutual, actor_age_days=age if needs_age else None,
            actor_counts={s: counts[s] for s in needs_counts} if needs_counts and actor.id is not None else None,
        )
        out.append(PairVerdict(target, RuleSet.verdict(candidates, lookups), lookups))
    return out
