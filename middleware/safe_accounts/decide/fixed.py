"""A route with a fixed outcome (`outcome: deny` or `hide`): an endpoint that only ever refuses.

The verdict does not depend on who is acting or whom the request names, so it is decided
before anything is read: no body, no targets, no relationship lookup. One rule per such
route, compiled once, named `route:NAME` (no rule id can hold a colon, so it is never taken
for a rule of the policy), with the route's `reason`, in the policy's mode.

What is recorded, per request: one decision-log row under that rule, with the actor and
their band (from the band cache, else one lookup within the time budget; `unknown` when it
fails: the refusal never waits on a store) and no target; the refusal is any rule's
(`refusal.refusal_of`). No grooming-signal event: a refusal that says nothing about whom
the actor was reaching must not count towards an alert (no target is an account), and it
is not a stranger contact blocked in the transparency report either (that figure leaves
`route:` rows out). In monitor mode the row is written and the app answers.
"""

from __future__ import annotations

from ..errors import StorageError
from ..policy.model import Action, Failure, Mode, Outcome
from .facts import ANONYMOUS, Facts
from .request import NOT_LOOKED_UP, Decision, decide, undecided
from .rules import CompiledRule, PairVerdict, RuleSet

PREFIX = "route:"
DEFAULT_REASON = "This endpoint is not available."

# A fixed refusal names nobody: the row's target is empty.
NOBODY = ANONYMOUS
# The actor is read as for any decision; no rule is about them here.
_NO_RULES = RuleSet(Action.DIRECT_MESSAGE, ())


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
        looked_up=lambda lookups: True,
    )


async def decide_fixed(facts: Facts, rule: CompiledRule, actor_id: str | None) -> Decision:
    """`rule`'s decision on a request by `actor_id`: the actor as far as their band can be
    read for the record (`unknown` when it cannot: the refusal never waits on a store)."""
    try:
        actor = (await decide(facts, _NO_RULES, actor_id, ())).actor
    except StorageError:
        actor = undecided(actor_id, ()).actor
    pair = PairVerdict(NOBODY, rule.verdict, NOT_LOOKED_UP)
    return Decision(actor, [pair], pair)
