"""When a lookup fails: refuse only if an enforced, fail-closed rule could have applied.

A store that fails or is too slow leaves some facts unknown. The request is refused (503)
when a rule that is enforced and fails closed could have applied with what is still
known; otherwise it goes on as if no rule applied. Monitor rules never refuse: they
decide and log, and never change a response, not even by turning a failure into a 503.

What is still known: bands already cached (a failed relationship lookup leaves them
there), restrictions (in process), and the targets when their extraction succeeded. An
unknown band may be any band, unknown targets any accounts, and an unknown relationship
any relationship, so this only ever refuses more than the facts would have. It runs on
the failure path alone, never on a request that succeeded.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product

from ..bands.age import AgeBand, Assurance, BandRecord
from .facts import ANONYMOUS, Facts, party
from .rules import Party, RuleSet

# An account no request can name (ids never hold control characters): a target the
# failure left unknown, never equal to the actor.
_SOMEONE = "\x00unknown target"


def refuses(facts: Facts, rules: RuleSet, actor_id: str | None, target_ids: Sequence[str] | None) -> bool:
    """Whether a failed lookup must refuse the request. `target_ids` None: they are unknown."""
    if not rules.fails_closed:  # no enforced, fail-closed rule at all: the common answer
        return False
    actors = [ANONYMOUS] if actor_id is None else _possible(facts, actor_id)
    if target_ids is None:
        targets = [_hypothetical(_SOMEONE, band, assurance, restricted) for band, assurance, restricted in _EVERY]
    else:
        targets = [possible for target in target_ids for possible in _possible(facts, target)]
    return any(
        rule.refuses_on_failure
        for actor in actors
        for target in targets
        for rule in rules.stage(actor, target).rules
    )


_EVERY = tuple(product(AgeBand, Assurance, (False, True)))


def _possible(facts: Facts, account: str) -> list[Party]:
    """The account as far as it is known: its cached band, or every band it could have."""
    restricted = facts.restrictions.is_restricted(account)
    record = facts.bands.cached(account)
    if record is not None:
        return [party(record, restricted)]
    return [_hypothetical(account, band, assurance, restricted) for band, assurance in product(AgeBand, Assurance)]


def _hypothetical(account: str, band: AgeBand, assurance: Assurance, restricted: bool) -> Party:
    """The party `account` would be with this band: as if the band store had said so."""
    return party(BandRecord(account, band, assurance, "unknown"), restricted)
