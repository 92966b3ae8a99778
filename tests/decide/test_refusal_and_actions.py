"""One refusal built from the verdict that decided, whatever the channel; one table says what
each action refuses, records and counts."""

from __future__ import annotations

from safe_accounts.decide.actions import ACTIONS
from safe_accounts.decide.refusal import HIDDEN, STATUS, refusal_of
from safe_accounts.decide.rules import ALLOW, RuleSet, compile_rule
from safe_accounts.policy.model import PROTECTS_TARGET, Action, EventKind, Failure, Mode, Outcome, Rule


def verdict(then: Outcome, mode: Mode = Mode.ENFORCE, *, restricted_notice: str | None = None):  # type: ignore[no-untyped-def]
    rule = Rule.model_validate({
        "id": f"r-{then.value}", "action": "direct_message", "then": then, "reason": "Not to this account.",
        "when": {"actor_restricted": True} if restricted_notice else {},
    })
    compiled = compile_rule(
        rule, policy_mode=mode, on_failure=Failure.CLOSED, unknown_is_minor=True, restricted_notice=restricted_notice
    )
    return RuleSet(Action.DIRECT_MESSAGE, [compiled]).rules[0].verdict


def test_an_enforced_deny_is_a_403_naming_the_rule_and_the_decision() -> None:
    refusal = refusal_of(verdict(Outcome.DENY), "d-1")
    assert refusal is not None
    assert (refusal.kind, refusal.status, refusal.detail, refusal.rule, refusal.decision_id, refusal.hidden) == (
        "denied", 403, "Not to this account.", "r-deny", "d-1", False,
    )


def test_a_hide_looks_like_an_absent_account_and_names_nothing() -> None:
    assert refusal_of(verdict(Outcome.HIDE), "d-1") is HIDDEN
    assert HIDDEN.rule is None and HIDDEN.decision_id is None and HIDDEN.hidden


def test_a_restricted_actor_is_told_the_neutral_notice_and_not_the_rule() -> None:
    refusal = refusal_of(verdict(Outcome.DENY, restricted_notice="Not available right now."), "d-1")
    assert refusal is not None and refusal.detail == "Not available right now." and refusal.rule is None


def test_nothing_else_refuses() -> None:
    assert refusal_of(ALLOW, None) is None
    assert refusal_of(verdict(Outcome.FILTER), "d-1") is None and refusal_of(verdict(Outcome.REDACT), "d-1") is None
    assert refusal_of(verdict(Outcome.DENY, Mode.MONITOR), "d-1") is None
    assert set(STATUS) == {Outcome.DENY, Outcome.HIDE}


def test_every_action_has_one_row_and_the_rows_say_what_the_request_path_does() -> None:
    assert set(ACTIONS) == set(Action)
    assert {a for a, spec in ACTIONS.items() if spec.protects_target} == set(PROTECTS_TARGET)
    counted = {a for a, spec in ACTIONS.items() if spec.refused_counts_as}
    assert counted == {Action.DIRECT_MESSAGE, Action.CONTACT_REQUEST}
    watched = {a for a, spec in ACTIONS.items() if spec.acts_on_success}
    assert watched == {Action.CONTACT_REQUEST, Action.CONTACT_RESPONSE, Action.REPORT, Action.BLOCK}
    # Blocks and reports count against the account blocked or reported; a request, the sender.
    assert ACTIONS[Action.BLOCK].against_target and ACTIONS[Action.REPORT].against_target
    assert not ACTIONS[Action.CONTACT_REQUEST].against_target
    assert ACTIONS[Action.BLOCK].succeeded_counts_as is EventKind.BLOCKED
    assert [a for a, spec in ACTIONS.items() if spec.targets_in_answer] == [Action.DISCOVERY]
