"""A refusal: why a request, a socket or a frame is not let through, in one shape.

Built once - from the verdict that decided (`refusal_of`) or for a failure - and told the
client the way its channel tells: an RFC 9457 problem document over HTTP
(`pipeline/problem.py`), the same document or a close over a WebSocket handshake, a notice
frame or a close for a frame (`pipeline/websocket.py`), a line of `safe-accounts policy test`.
`kind` is the problem type (docs/problems.md). A refusal never names the target or its band:
it must not tell a stranger that an account is a child's.
"""

from __future__ import annotations

from typing import NamedTuple

from ..policy.model import Mode, Outcome
from .rules import Verdict


# A NamedTuple, not a frozen dataclass: one is made per refused request, and a frozen
# dataclass sets each field through `object.__setattr__`.
class Refusal(NamedTuple):
    kind: str
    title: str
    status: int
    detail: str
    # The rule that refused, as the client may see it, and the decision-log row's id.
    rule: str | None = None
    decision_id: str | None = None
    # A `hide`: answered as the app's own "not found", never as a problem of ours.
    hidden: bool = False


# The status an enforced refusal answers with; the decision log keeps it for every channel.
STATUS = {Outcome.DENY: 403, Outcome.HIDE: 404}

HIDDEN = Refusal("not-found", "Not Found", 404, "Not Found", hidden=True)


def refusal_of(verdict: Verdict, decision_id: str | None) -> Refusal | None:
    """The refusal an enforced `deny` or `hide` answers with; None for any other verdict
    (allow, filter, redact, anything in monitor mode: those change no answer, or rewrite it)."""
    rule = verdict.rule
    if rule is None or rule.mode is not Mode.ENFORCE or verdict.outcome not in STATUS:
        return None
    if verdict.outcome is Outcome.HIDE:
        # Indistinguishable from "no such account": no rule, no decision id (the log has both).
        return HIDDEN
    return Refusal("denied", "Not allowed", 403, rule.detail, rule=rule.public_id, decision_id=decision_id)


# A lookup failed (or overran the time budget) where an enforced, fail-closed rule could apply.
UNAVAILABLE = Refusal(
    "unavailable", "Safety check unavailable", 503,
    "A safety check could not be completed. Please try again shortly.",
)
