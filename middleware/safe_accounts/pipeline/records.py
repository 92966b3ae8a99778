"""What a decision leaves behind: decision-log rows and grooming-signal events.

One implementation for every channel (an HTTP request, a WebSocket handshake, one frame
of a socket), so a refusal counts the same towards the audit trail and the grooming
alerts whichever way the attempt arrived. Both writers only queue (a list append, a
submit): nothing here waits for SQL or Redis.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..decisions.log import DecisionRow
from ..decisions.ids import new_decision_id
from ..policy.engine import Party
from ..policy.model import Action, EventKind, Mode, Outcome
from ..runtime import Runtime
from ..signals.events import Event
from .facts import PairVerdict

# The HTTP status a refusal answers with; the decision log keeps it for every channel.
STATUS = {Outcome.DENY: 403, Outcome.HIDE: 404}

# A refused attempt is still an attempt: it counts towards the grooming signals.
_EVENT_OF_REFUSAL = {
    Action.DIRECT_MESSAGE: EventKind.DM_DENIED,
    Action.CONTACT_REQUEST: EventKind.CONTACT_REQUEST,
}


def log_decision(
    rt: Runtime,
    *,
    action: Action,
    route: str,
    at: float,
    actor: Party,
    pairs: Sequence[PairVerdict],
    affected_by_rule: bool = False,
) -> str | None:
    """Queue a decision-log row per refused (or would-be refused) target; the first row's id
    names the decision. With `affected_by_rule` (lists), one row per rule counts the targets."""
    decision_id: str | None = None
    rows: dict[tuple[str, str | None], DecisionRow] = {}
    counts: dict[str, int] = {}
    for pair in pairs:
        rule = pair.verdict.rule
        if rule is None:
            continue
        if affected_by_rule and rule.id in counts:
            counts[rule.id] += 1
            continue
        counts[rule.id] = 1
        row_id = new_decision_id()
        decision_id = decision_id or row_id
        rows[(rule.id, pair.target.id)] = DecisionRow(
            id=row_id,
            at=at,
            action=action.value,
            rule=rule.id,
            policy_version=rt.policy.version,
            mode=rule.mode.value,
            outcome=rule.outcome.value,
            status=STATUS.get(rule.outcome) if rule.mode is Mode.ENFORCE else None,
            actor_id=actor.id,
            actor_band=actor.band.value,
            target_id=pair.target.id,
            target_band=pair.target.band.value,
            route=route,
        )
    for row in rows.values():
        if affected_by_rule and counts.get(row.rule, 1) > 1:
            row = row._replace(affected=counts[row.rule])
        rt.decisions.record(row)
    return decision_id


def record_refusal(
    rt: Runtime,
    *,
    action: Action,
    at: float,
    actor: Party,
    pairs: Sequence[PairVerdict],
    decision_id: str,
) -> None:
    """Signal events for an enforced refusal: a denied DM or contact request per refused target."""
    kind = _EVENT_OF_REFUSAL.get(action)
    if kind is None or actor.id is None or rt.signals is None:
        return
    for pair in pairs:
        if pair.verdict.rule is not None and pair.target.id is not None:
            submit(rt, kind, actor.id, pair.target, pair.relation.mutual, at, decision_id)


def submit(
    rt: Runtime,
    kind: EventKind,
    subject: str,
    other: Party,
    mutual: int | None,
    at: float,
    decision_id: str | None,
) -> None:
    """One event about `subject` reaching `other`; dropped when no signal pipeline is attached."""
    if rt.signals is None or other.id is None:
        return
    rt.signals.submit(Event(kind, subject, other.id, other.band, mutual, at, decision_id))
