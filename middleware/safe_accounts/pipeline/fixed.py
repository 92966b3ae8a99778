"""A route with a fixed outcome (`outcome: deny` or `hide`): an endpoint that only ever refuses.

The verdict does not depend on who is acting or whom the request names, so it is decided
before anything is read: no body, no targets, no relationship lookup. One rule per such
route, compiled once, named `route:NAME` (no rule id can hold a colon, so it is never taken
for a rule of the policy), with the route's `reason`, in the policy's mode.

What is recorded, per request: one decision-log row under that rule, with the actor and
their band (from the band cache, else one lookup within the time budget; `unknown` when it
fails: the refusal never waits on a store) and no target. No grooming-signal event: a
refusal that says nothing about whom the actor was reaching must not count towards an
alert, and it is not a stranger contact blocked in the transparency report either (that
figure leaves `route:` rows out). In monitor mode the row is written and the app answers.
"""

from __future__ import annotations

import asyncio

from ..bands.age import AgeBand
from ..errors import StorageError
from ..policy.engine import CompiledRule, Party, Relation
from ..policy.model import Action, Failure, Mode, Outcome
from ..runtime import Runtime
from . import records
from .facts import ANONYMOUS, PairVerdict, party

PREFIX = "route:"
DEFAULT_REASON = "This endpoint is not available."

# A fixed refusal names nobody: the row's target is empty.
_NOBODY = Party(None, AgeBand.UNKNOWN)
_NO_RELATION = Relation()


def fixed_rule(route: str, outcome: str, reason: str | None, mode: Mode) -> CompiledRule:
    """The one rule of a route whose outcome is fixed: it applies to every request."""
    return CompiledRule(
        id=f"{PREFIX}{route}",
        outcome=Outcome(outcome),
        mode=mode,
        on_failure=Failure.CLOSED,
        reason=reason or DEFAULT_REASON,
        needs_connected=False,
        needs_mutual=False,
        cheap=lambda actor, target: True,
        relational=lambda relation: True,
    )


async def decide(
    rt: Runtime, rule: CompiledRule, *, action: Action, route: str, actor_id: str | None, at: float
) -> tuple[PairVerdict, str]:
    """Record the decision; (the pair `_answer` takes, the decision id)."""
    actor = await _actor(rt, actor_id)
    pair = PairVerdict(_NOBODY, rule.verdict, _NO_RELATION)
    decision_id = records.log_decision(rt, action=action, route=route, at=at, actor=actor, pairs=[pair])
    assert decision_id is not None  # the pair has a rule: one row, one id
    return pair, decision_id


async def _actor(rt: Runtime, actor_id: str | None) -> Party:
    if actor_id is None:
        return ANONYMOUS
    restricted = rt.restrictions.is_restricted(actor_id)
    record = rt.bands.cached(actor_id)
    if record is None:
        try:
            async with asyncio.timeout(rt.policy.defaults.time_budget_ms / 1000):
                record = (await rt.bands.get_many([actor_id]))[actor_id]
        except (StorageError, TimeoutError, OSError):
            return Party(actor_id, AgeBand.UNKNOWN, restricted=restricted)
    return party(record, restricted)
