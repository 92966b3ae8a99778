"""RFC 9457 problem details: every refusal of ours, in one shape.

`type` URIs are stable identifiers of the kind of refusal (documented in docs/problems.md),
`rule` and `decision_id` let a moderator or an auditor find the decision-log row. The
detail never names the target or its band: a refusal must not reveal that an account is
a child.
"""

from __future__ import annotations

from typing import Any

import orjson

from .._types import Send

PROBLEM_BASE = "https://safe-accounts.dev/problems/"
DECISION_HEADER = b"safe-accounts-decision"
NOTICE_HEADER = b"safe-accounts-notice"
MEDIA_TYPE = b"application/problem+json"


def problem_body(
    kind: str, title: str, status: int, detail: str, **extra: Any
) -> bytes:
    document = {"type": PROBLEM_BASE + kind, "title": title, "status": status, "detail": detail}
    document.update({k: v for k, v in extra.items() if v is not None})
    return orjson.dumps(document)


async def send_problem(
    send: Send,
    kind: str,
    title: str,
    status: int,
    detail: str,
    *,
    decision_id: str | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
    **extra: Any,
) -> None:
    body = problem_body(kind, title, status, detail, decision_id=decision_id, **extra)
    response_headers = [
        (b"content-type", MEDIA_TYPE),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if decision_id is not None:
        response_headers.append((DECISION_HEADER, decision_id.encode()))
    if headers:
        response_headers.extend(headers)
    await send({"type": "http.response.start", "status": status, "headers": response_headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


# The refusals we send, by kind: (title, default status).
DENIED = ("denied", "Not allowed")
HIDDEN = ("not-found", "Not Found")
UNAVAILABLE = ("unavailable", "Safety check unavailable")
TOO_LARGE = ("body-too-large", "Request body too large")
UNREADABLE = ("unreadable-body", "Request body could not be checked")
TARGET_UNREADABLE = ("unreadable-target", "Target account could not be checked")
TARGET_UNREADABLE_DETAIL = "The account this request is for could not be read from it, so it could not be checked."
UNREADABLE_RESPONSE = ("unreadable-response", "Response could not be checked")
