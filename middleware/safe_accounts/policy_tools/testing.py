"""Running the test cases a policy file carries (`safe-accounts policy test`).

Like `opa test` and Cerbos' policy tests: each case gives accounts with bands, the
connections between them, and either an action against a target or a request that the
policy's route map must recognise. The case's facts are given in memory
(`decide.GivenFacts`) and decided by the middleware's own `decide`, so a passing case is a
statement about production; what the client would be told is the middleware's `Refusal`.

A case that names a rule the policy switches off (`enabled: false`, usually a base's rule an
extending file does not want, with the base's cases about it) is skipped, and says so: what
it expects of that rule says nothing about this policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..decide.fixed import decide_fixed
from ..decide.given import GivenFacts
from ..decide.refusal import Refusal, refusal_of
from ..decide.request import Decision, decide
from ..decide.rules import ALLOW, CompiledRule, RuleSet
from ..pipeline.compiled import CompiledPolicy
from ..pipeline.ids import account_ids
from ..pipeline.request_view import RequestView, parse_query
from ..pipeline.targets import FormSource, JsonSource, PathSource, QuerySource, unread
from ..policy.model import PolicyTest


@dataclass(frozen=True, slots=True)
class CaseResult:
    name: str
    passed: bool
    expected: str
    got: str
    rule: str | None
    note: str = ""
    # What the client is told, when the decision refuses (a 403 problem, the app's 404).
    refusal: Refusal | None = None
    # Why the case was not run (None: it was); a skipped case neither passes nor fails.
    skipped: str | None = None


def _targets(policy: CompiledPolicy, case: PolicyTest) -> tuple[RuleSet, list[str], str]:
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
    return route.rules, [t for t in account_ids(raw) if t != case.actor], route.name


def _fixed(policy: CompiledPolicy, case: PolicyTest) -> CompiledRule | None:
    """The rule of a route whose outcome is fixed, when the case's request reaches one."""
    if case.request is None:
        return None
    method, _, target = case.request.partition(" ")
    found = policy.table.match(method.strip().upper(), target.strip().partition("?")[0])
    return None if found is None else found.payload.fixed


async def run_case(policy: CompiledPolicy, case: PolicyTest) -> CaseResult:
    if case.rule is not None and case.rule in _switched_off(policy):
        return CaseResult(
            case.name, False, case.expect.value, "skipped", case.rule,
            skipped=f"rule {case.rule} is switched off (enabled: false)",
        )
    facts = GivenFacts.of_case(case)
    fixed = _fixed(policy, case)
    if fixed is not None:  # decided before any target is read
        decided = await decide_fixed(facts, fixed, case.actor)
        return _result(case, decided, "the route's fixed outcome")
    try:
        if case.action is not None:
            rules = policy.rules_of(case.action, case.discovery)
            targets, where = [case.target] if case.target else [], case.action.value
            if case.discovery is not None:
                where += f" ({case.discovery.value})"
        else:
            rules, targets, where = _targets(policy, case)
    except LookupError as exc:
        return CaseResult(case.name, False, case.expect.value, "error", None, str(exc))
    return _result(case, await decide(facts, rules, case.actor, targets), f"via {where}")


def _result(case: PolicyTest, decision: Decision, where: str) -> CaseResult:
    verdict = ALLOW if decision.decisive is None else decision.decisive.verdict
    rule_id = verdict.rule.id if verdict.rule else None
    passed = verdict.outcome == case.expect
    if case.rule is not None and rule_id != case.rule:
        passed = False
    if case.mode is not None and verdict.mode != case.mode:
        passed = False
    got = verdict.outcome.value + (f" ({verdict.mode.value})" if verdict.rule else "")
    refusal = refusal_of(verdict, None)
    note = where + (f", answered {refusal.status}" if refusal is not None else "")
    return CaseResult(case.name, passed, case.expect.value, got, rule_id, note, refusal)


async def run_tests(policy: CompiledPolicy) -> list[CaseResult]:
    return [await run_case(policy, case) for case in policy.policy.tests]


def _switched_off(policy: CompiledPolicy) -> frozenset[str]:
    """The ids of the policy's rules that are not enabled."""
    return frozenset(rule.id for rule in policy.policy.rules if not rule.enabled)
