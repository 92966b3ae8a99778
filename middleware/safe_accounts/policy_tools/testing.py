"""Running the test cases a policy file carries (`safe-accounts policy test`).

Like `opa test` and Cerbos' policy tests: each case gives accounts with bands, the
connections between them, and either an action against a target or a request that the
policy's route map must recognise. The rules decide in memory, exactly as the middleware's
engine does (the same `RuleSet`), so a passing case is a statement about production.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..bands.age import AgeBand, Assurance
from ..pipeline.ids import account_ids
from ..pipeline.request_view import RequestView, parse_query
from ..pipeline.targets import JsonSource, PathSource, QuerySource, FormSource, unread
from ..pipeline.compiled import CompiledPolicy
from ..policy.engine import ALLOW, Party, Relation, Verdict
from ..policy.model import Action, PolicyTest


@dataclass(frozen=True, slots=True)
class CaseResult:
    name: str
    passed: bool
    expected: str
    got: str
    rule: str | None
    note: str = ""


def _party(case: PolicyTest, account: str | None) -> Party:
    if account is None:
        return Party(None, AgeBand.UNKNOWN)
    spec = case.accounts.get(account)
    if spec is None:
        return Party(account, AgeBand.UNKNOWN, restricted=account in case.restricted)
    band, _, assurance = spec.partition("/")
    return Party(
        account,
        AgeBand.parse(band),
        Assurance.parse(assurance) if assurance else Assurance.SELF_DECLARED,
        account in case.restricted,
    )


def _relation(case: PolicyTest, a: str | None, b: str | None) -> Relation:
    if a is None or b is None:
        return Relation(connected=False, mutual=0)
    pairs = {frozenset(p) for p in case.connections}
    mutual = case.mutual.get(f"{a},{b}", case.mutual.get(f"{b},{a}", 0))
    return Relation(connected=frozenset((a, b)) in pairs, mutual=mutual)


def _targets(policy: CompiledPolicy, case: PolicyTest) -> tuple[Action, list[str], str]:
    assert case.request is not None
    method, _, target = case.request.partition(" ")
    path, _, query = target.strip().partition("?")
    found = policy.table.match(method.strip().upper(), path)
    if found is None:
        raise LookupError(f"no route matches {case.request!r}")
    route, params = found
    view = RequestView(method, path, dict(params), parse_query(query.encode()), case.actor)
    if case.json_ is not None:
        view.json = case.json_
    if case.form is not None:
        view.form = list(case.form.items())
    raw: list[object] = []
    for source in route.targets.sources:
        if not isinstance(source, (PathSource, QuerySource, JsonSource, FormSource)):
            raise LookupError(f"route {route.name!r} takes targets from SQL or a callable: test it with `action`")
        raw.extend(source.values(view))
    if route.targets.required and unread(raw):
        raise LookupError(f"route {route.name!r} refuses this request (400): no target account can be read from it")
    return route.action, [t for t in account_ids(raw) if t != case.actor], route.name


def _fixed(policy: CompiledPolicy, case: PolicyTest) -> Verdict | None:
    """The verdict of a request on a route whose outcome is fixed (no target is read there)."""
    if case.request is None:
        return None
    method, _, target = case.request.partition(" ")
    found = policy.table.match(method.strip().upper(), target.strip().partition("?")[0])
    if found is None or found.payload.fixed is None:
        return None
    return found.payload.fixed.verdict


def run_case(policy: CompiledPolicy, case: PolicyTest) -> CaseResult:
    fixed = _fixed(policy, case)
    if fixed is not None:
        return _result(case, fixed, "the route's fixed outcome")
    try:
        if case.action is not None:
            action, targets, where = case.action, [case.target] if case.target else [], case.action.value
        else:
            action, targets, where = _targets(policy, case)
    except LookupError as exc:
        return CaseResult(case.name, False, case.expect.value, "error", None, str(exc))
    actor = _party(case, case.actor)
    rules = policy.rules[action]
    verdict: Verdict = ALLOW
    for target in targets:
        candidate = rules.decide(actor, _party(case, target), _relation(case, case.actor, target))
        if candidate.rule is not None and (verdict.rule is None or candidate.rank > verdict.rank):
            verdict = candidate
    return _result(case, verdict, f"via {where}")


def _result(case: PolicyTest, verdict: Verdict, note: str) -> CaseResult:
    rule_id = verdict.rule.id if verdict.rule else None
    passed = verdict.outcome == case.expect
    if case.rule is not None and rule_id != case.rule:
        passed = False
    if case.mode is not None and verdict.mode != case.mode:
        passed = False
    got = verdict.outcome.value + (f" ({verdict.mode.value})" if verdict.rule else "")
    return CaseResult(case.name, passed, case.expect.value, got, rule_id, note)


def run_tests(policy: CompiledPolicy) -> list[CaseResult]:
    return [run_case(policy, case) for case in policy.policy.tests]
