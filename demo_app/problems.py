"""Errors as RFC 9457 problem details: one exception type, one response shape.

Every refusal the app makes (bad input, unknown account, not allowed) is raised as a
`Problem` and answered as `application/problem+json`, so a client - or a page's
script - reads the same `title` and `detail` whether the refusal came from the app or
from a middleware in front of it.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """A request the app refuses, with the status and the words to show the user."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }

    def response(self) -> JSONResponse:
        return JSONResponse(self.as_dict(), status_code=self.status, media_type=PROBLEM_JSON)


def bad_request(detail: str) -> Problem:
    return Problem(400, "Bad request", detail)


def invalid(detail: str) -> Problem:
    return Problem(422, "Invalid input", detail)


class NotLoggedIn(Problem):
    """No one is logged in: the API answers 401, a page sends the person to log in."""

    def __init__(self, detail: str = 'log in first: POST /api/login {"handle": ...}') -> None:
        super().__init__(401, "Not logged in", detail)


def not_logged_in() -> Problem:
    return NotLoggedIn()


def forbidden(detail: str) -> Problem:
    return Problem(403, "Not allowed", detail)


def not_found(detail: str) -> Problem:
    return Problem(404, "Not found", detail)


def conflict(detail: str) -> Problem:
    return Problem(409, "Conflict", detail)


class ConfigurationProblem(Exception):
    """A setting of the demo app (URL, option) that cannot be used as given."""
