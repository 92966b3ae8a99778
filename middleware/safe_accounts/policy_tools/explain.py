"""Why a request would be allowed or refused (`safe-accounts policy explain`).

Runs the real pipeline's pieces against the real database: the route table, the target
extraction, the band and relationship lookups and the rule sets, and says at each step
what it found. Nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..pipeline.facts import judge, parties, strongest
from ..pipeline.request_view import RequestView, parse_query
from ..pipeline.targets import TargetsUnread
from ..runtime import Runtime


@dataclass
class Explanation:
    request: str
    route: str | None = None
    action: str | None = None
    actor: str | None = None
    actor_band: str | None = None
    targets: list[dict[str, Any]] = field(default_factory=list)
    outcome: str = "allow"
    rule: str | None = None
    mode: str | None = None
    reason: str = ""

    def lines(self) -> list[str]:
        if self.route is None:
            return [f"{self.request}: no policy route matches; passed to the app untouched (no checks)."]
        out = [
            f"{self.request}: route {self.route!r} ({self.action})",
            f"  actor: {self.actor or 'anonymous'} ({self.actor_band})",
        ]
        if not self.targets:
            out.append("  targets: none found in the request")
        for t in self.targets:
            facts = ", ".join(f"{k}={v}" for k, v in t.items() if k not in ("id", "band") and v is not None)
            out.append(f"  target {t['id']} ({t['band']}){': ' + facts if facts else ''}")
        decided = f"{self.outcome}" + (f" by rule {self.rule!r} ({self.mode})" if self.rule else " (no rule applies)")
        out.append(f"  decision: {decided}")
        if self.reason:
            out.append(f"  reason: {self.reason}")
        return out


async def explain(runtime: Runtime, actor: str | None, request: str, *, json: Any = None,
                  form: dict[str, str] | None = None) -> Explanation:
    method, _, target = request.strip().partition(" ")
    parts = urlsplit(target.strip())
    result = Explanation(request=request.strip())
    found = runtime.policy.table.match(method.upper(), parts.path)
    if found is None:
        return result
    route, params = found
    result.route, result.action = route.name, route.action.value
    view = RequestView(method.upper(), parts.path, dict(params), parse_query(parts.query.encode()), actor)
    if json is not None:
        view.json = json
    if form is not None:
        view.form = list(form.items())
    try:
        ids = [] if route.action.value == "discovery" else await route.targets.extract(view)
    except TargetsUnread:
        actor_party, _ = await parties(runtime, actor, [])
        result.actor, result.actor_band = actor, actor_party.band.value
        result.outcome = "refused (400)"
        result.reason = "No target account can be read from the request: the middleware refuses it unchecked."
        return result
    actor_party, target_parties = await parties(runtime, actor, ids)
    result.actor, result.actor_band = actor, actor_party.band.value
    pairs = await judge(runtime, route.rules, actor_party, target_parties)
    for pair in pairs:
        rule = pair.verdict.rule
        result.targets.append({
            "id": pair.target.id, "band": pair.target.band.value,
            "restricted": pair.target.restricted or None,
            "connected": pair.relation.connected, "mutual": pair.relation.mutual,
            "rule": rule.id if rule else None,
        })
    decisive = strongest(pairs)
    if decisive is not None and decisive.verdict.rule is not None:
        rule = decisive.verdict.rule
        result.outcome, result.rule, result.mode, result.reason = (
            rule.outcome.value, rule.id, rule.mode.value, rule.reason,
        )
    return result
