"""Which of the app's routes the policy does not classify (`safe-accounts policy coverage`).

A groomer blocked on `/api/v1/messages` tries `/api/v2/...`, the group-chat route, or the
"add participant" route. Coverage walks the app's own router (`app_routes.py`: Starlette,
FastAPI, mounts, middleware; it refuses what it cannot read) and lists every route no policy
route matches, flagging those whose parameters look like accounts: the routes a groomer
could use instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..pipeline.compiled import CompiledPolicy
from .app_routes import AppRoute, app_routes

ACCOUNT_LIKE = re.compile(
    r"(^|_)(account|user|member|participant|recipient|friend|follower|profile|handle|username|"
    r"person|peer|contact|to|target|child|owner|author|sender|conversation|chat|room|thread)s?(_?id)?$",
    re.IGNORECASE,
)
_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(:[a-zA-Z_]+)?}")


def account_like(route: AppRoute) -> tuple[str, ...]:
    return tuple(p for p in route.params if ACCOUNT_LIKE.search(p))


_EXAMPLES = {"int": "1", "float": "1.5", "uuid": "00000000-0000-0000-0000-000000000000", "path": "a/b"}


def _example(path: str) -> str:
    """A concrete path for a template, to ask the policy's table about it."""
    def fill(match: re.Match[str]) -> str:
        return _EXAMPLES.get((match.group(2) or ":str")[1:], "x")

    return _PARAM.sub(fill, path)


@dataclass(frozen=True, slots=True)
class Coverage:
    classified: list[tuple[AppRoute, str]]
    unclassified: list[AppRoute]
    reviewed: list[tuple[AppRoute, str]]

    @property
    def risky(self) -> list[AppRoute]:
        return [r for r in self.unclassified if account_like(r) or _writes(r)]


# Contact-shaped words in a path: a write there reaches another person even when the
# account is in the body, not the path.
CONTACT_WORDS = re.compile(
    r"message|conversation|chat|dm|inbox|friend|follow|request|invite|member|participant|"
    r"search|suggest|recommend|people|contacts?|profile|block|report",
    re.IGNORECASE,
)


def _writes(route: AppRoute) -> bool:
    literal = _PARAM.sub("", route.path)
    return bool(CONTACT_WORDS.search(literal))


def coverage(policy: CompiledPolicy, app: Any) -> Coverage:
    classified: list[tuple[AppRoute, str]] = []
    unclassified: list[AppRoute] = []
    reviewed: list[tuple[AppRoute, str]] = []
    acknowledged = {}
    for entry in policy.policy.reviewed:
        methods = (entry.method,) if isinstance(entry.method, str) else entry.method
        for method in methods:
            acknowledged[(method.upper(), entry.path)] = entry.reason
    for route in app_routes(app):
        example = _example(route.path)
        names = [
            found.payload.name
            for method in route.methods
            if method != "HEAD" and (found := policy.table.match(method, example)) is not None
        ]
        reason = next(
            (acknowledged[(m, route.path)] for m in route.methods if (m, route.path) in acknowledged), None
        )
        if names:
            classified.append((route, ", ".join(sorted(set(names)))))
        elif reason is not None:
            reviewed.append((route, reason))
        else:
            unclassified.append(route)
    return Coverage(classified, unclassified, reviewed)
