"""Why a request would be allowed or refused (`safe-accounts policy explain`).

Runs the real pipeline's pieces against the real database: the route table, the target
extraction, and the decision (`decide`, over the same stores as the middleware), and says
at each step what it found, then what will happen to the app's answer (filtered, redacted)
and what is recorded after it (counted). Nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..decide.fixed import PREFIX as FIXED_PREFIX
from ..decide.fixed import decide_fixed
from ..decide.refusal import refusal_of
from ..decide.request import decide
from ..decide.rules import PairVerdict
from ..pipeline.compiled import CompiledRoute
from ..pipeline.request_view import RequestView, parse_query
from ..pipeline.targets import TargetsUnread
from ..policy.model import Mode, Outcome
from ..runtime import Runtime


@dataclass
class Explanation:
    request: str
    route: str | None = None
    action: str | None = None
    actor: str | None = None
    actor_band: str | None = None
    actor_restricted: bool = False
    targets: list[dict[str, Any]] = field(default_factory=list)
    outcome: str = "allow"
    rule: str | None = None
    mode: str | None = None
    reason: str = ""
    # What will happen to the app's answer and after it: filtered, redacted, counted.
    afterwards: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        if self.route is None:
            return [f"{self.request}: no policy route matches; passed to the app untouched (no checks)."]
        out = [
            f"{self.request}: route {self.route!r} ({self.action})",
            f"  actor: {self.actor or 'anonymous'} ({self.actor_band}"
            + (", restricted by a moderator or an alert)" if self.actor_restricted else ")"),
        ]
        if self.rule is not None and self.rule.startswith(FIXED_PREFIX):
            out.append(f"  decision: {self.outcome} by {self.rule!r} ({self.mode}): the route refuses every request")
            out.append(f"  reason: {self.reason}")
            return out
        if not self.targets:
            out.append("  targets: none found in the request")
        for t in self.targets:
            facts = ", ".join(f"{k}={v}" for k, v in t.items() if k not in ("id", "band") and v is not None)
            out.append(f"  target {t['id']} ({t['band']}){': ' + facts if facts else ''}")
        decided = f"{self.outcome}" + (f" by rule {self.rule!r} ({self.mode})" if self.rule else " (no rule applies)")
        out.append(f"  decision: {decided}")
        if self.reason:
            out.append(f"  reason: {self.reason}")
        out.extend(f"  {line}" for line in self.afterwards)
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
    if route.fixed is not None:  # decided before anything is read (decide/fixed.py)
        fixed = route.fixed
        decided = await decide_fixed(runtime.facts, fixed, actor)
        result.actor, result.actor_band = actor, decided.actor.band.value
        result.outcome, result.rule, result.mode, result.reason = (
            fixed.outcome.value, fixed.id, fixed.mode.value, fixed.reason,
        )
        return result
    view = RequestView(method.upper(), parts.path, dict(params), parse_query(parts.query.encode()), actor)
    if json is not None:
        view.json = json
    if form is not None:
        view.form = list(form.items())
    try:
        ids = [] if route.spec.targets_in_answer else await route.targets.extract(view)
    except TargetsUnread:
        decision = await decide(runtime.facts, route.rules, actor, [])
        result.actor, result.actor_band = actor, decision.actor.band.value
        result.outcome = "refused (400)"
        result.reason = "No target account can be read from the request: the middleware refuses it unchecked."
        return result
    decision = await decide(runtime.facts, route.rules, actor, ids)
    result.actor, result.actor_band = actor, decision.actor.band.value
    result.actor_restricted = decision.actor.restricted
    for pair in decision.pairs:
        rule = pair.verdict.rule
        result.targets.append({
            "id": pair.target.id, "band": pair.target.band.value,
            "restricted": pair.target.restricted or None,
            **pair.lookups._asdict(),
            "rule": rule.id if rule else None,
        })
    decisive = decision.decisive
    if decisive is not None and decisive.verdict.rule is not None:
        rule = decisive.verdict.rule
        result.outcome, result.rule, result.mode, result.reason = (
            rule.outcome.value, rule.id, rule.mode.value, rule.reason,
        )
    if decisive is None or refusal_of(decisive.verdict, None) is None:
        result.afterwards = afterwards(runtime, route, decisive)
    return result


def afterwards(runtime: Runtime, route: CompiledRoute, decisive: PairVerdict | None) -> list[str]:
    """What happens to the app's answer, and what is recorded after it, when it is not refused."""
    lines: list[str] = []
    policy = runtime.policy
    # The shape as written (the compiled one holds parsed paths).
    shape = policy.policy.routes[policy.routes.index(route)].response
    if decisive is not None and decisive.verdict.outcome is Outcome.REDACT and shape is not None:
        change = "removed from" if decisive.verdict.mode is Mode.ENFORCE else "logged, not removed (monitor), from"
        lines.append(f"response: redacted: {', '.join(shape.redact) or 'no field'} {change} the answer")
    lists = list(shape.lists) if shape is not None else []
    listed = shape is not None and route.spec.targets_in_answer and shape.items is not None
    if listed or lists:
        rules = ", ".join(r.id for r in route.lists.rules if r.outcome is Outcome.FILTER) or "none"
        where = ([f"the accounts listed at {shape.items}"] if listed and shape is not None else []) + [
            f"the list at {path}" for path in lists
        ]
        effect = "filtered" if route.filters_lists else "judged and logged, not changed (monitor)"
        lines.append(
            f"response: {' and '.join(where)} {effect} for this viewer, account by account, by the "
            f"discovery rules (filter rules: {rules}); an answer that is not JSON is refused"
            + ("" if route.filters_lists else " only under an enforced rule")
        )
    kind = route.spec.succeeded_counts_as
    if kind is not None:
        plan = [s.id for s in policy.policy.signals.counts if s.enabled and s.event is kind]
        counted = f" (counted by {', '.join(plan)})" if plan else " (no signal counts it)"
        lines.append(f"after a 2xx answer: a `{kind.value}` event is recorded{counted}")
    if route.spec.files_reports:
        lines.append("after a 2xx answer: a child-endangerment report per account reported, in the moderation queue")
    if route.spec.answers_request and route.answer is not None:
        lines.append(
            f"after a 2xx answer: {route.answer.field} tells acceptance from rejection; a rejection by an "
            "under-18 is counted as `contact_rejected`"
        )
    return lines

