"""RFC 9457 problem details: every refusal of ours over HTTP, in one shape.

A `Refusal` (`decide/refusal.py`) becomes a document: `type` is a stable URI for the kind
of refusal (documented in docs/problems.md), `rule` and `decision_id` let a moderator or an
auditor find the decision-log row. The detail never names the target or its band: a refusal
must not reveal that an account is a child.
"""

from __future__ import annotations

import orjson

from .._types import Send
from ..decide.refusal import Refusal

PROBLEM_BASE = "https://safe-accounts.dev/problems/"
DECISION_HEADER = b"safe-accounts-decision"
NOTICE_HEADER = b"safe-accounts-notice"
MEDIA_TYPE = b"application/problem+json"


def problem_body(kind: str, title: str, status: int, detail: str, **extra: object) -> bytes:
    """The document; `extra` members that are None are left out."""
    document: dict[str, object] = {"type": PROBLEM_BASE + kind, "title": title, "status": status, "detail": detail}
    document.update({k: v for k, v in extra.items() if v is not None})
    return orjson.dumps(document)


async def send_problem(send: Send, refusal: Refusal) -> None:
    body = problem_body(
        refusal.kind, refusal.title, refusal.status, refusal.detail,
        decision_id=refusal.decision_id, rule=refusal.rule,
    )
    headers = [
        (b"content-type", MEDIA_TYPE),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if refusal.decision_id is not None:
        headers.append((DECISION_HEADER, refusal.decision_id.encode()))
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


# The request path's refusals that are no rule's verdict (a rule's: `decide.refusal_of`).
TOO_LARGE = Refusal(
    "body-too-large", "Request body too large", 413, "The request body is over the size this route accepts."
)
TOO_MANY_ACCOUNTS = Refusal(
    "unreadable-body", "Request body could not be checked", 400, "The request names too many accounts to check."
)
TARGET_UNREADABLE = Refusal(
    "unreadable-target", "Target account could not be checked", 400,
    "The account this request is for could not be read from it, so it could not be checked.",
)
# An actor whose id is longer than our tables keep (`decide.ids.keeps`): their requests could
# be neither recorded nor counted, so none is let through. A target of that kind is an
# unreadable target (`targets.TargetUnkept`).
ACTOR_UNREADABLE = Refusal(
    "unreadable-actor", "Acting account could not be checked", 400,
    "The account making this request has an id too long to be checked.",
)
UNREADABLE_RESPONSE = Refusal(
    "unreadable-response", "Response could not be checked", 502,
    "The answer could not be checked for accounts this viewer may not see.",
)


def unreadable_body(why: str) -> Refusal:
    return Refusal(
        "unreadable-body", "Request body could not be checked", 400, f"The request body could not be checked: {why}."
    )
