"""The policy's `moderation:` section and a report route's `report_text`: defaults, merging
over a base, and mistakes reported at their line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from safe_accounts.decide.rules import compile_rule
from safe_accounts.errors import PolicyError
from safe_accounts.policy.loader import load_policy
from safe_accounts.policy.model import DEFAULT_DUE, DEFAULT_RESTRICTED_NOTICE, Failure, Mode

HEAD = "version: 1\nname: app\nextends: baseline\n"


def _load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "policy.yaml"
    path.write_text(HEAD + textwrap.dedent(text))
    return load_policy(path).policy


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(PolicyError) as raised:
        _load(tmp_path, text)
    return [f"{p.line}: {p.reason}" for p in raised.value.problems]


def test_without_a_section_the_defaults_are_neutral_words_and_a_day_for_childrens_reports(
    tmp_path: Path,
) -> None:
    moderation = _load(tmp_path, "").moderation
    assert moderation.display is None and moderation.webhook is None
    assert moderation.due == DEFAULT_DUE
    assert moderation.restricted_notice == DEFAULT_RESTRICTED_NOTICE
    for word in ("under-18", "minor", "child", "moderator", "review"):
        assert word not in DEFAULT_RESTRICTED_NOTICE.lower()


def test_an_app_changes_what_it_writes_and_keeps_the_rest(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text(
        HEAD.replace("name: app", "name: base")
        + "moderation:\n  due: [{item: alert, within: 2h}]\n  restricted_notice: Not now.\n"
    )
    app = tmp_path / "app.yaml"
    app.write_text(
        "version: 1\nname: app\nextends: base.yaml\n"
        "moderation:\n  display: {sql: 'SELECT id, name, handle FROM users WHERE id IN :accounts'}\n"
    )
    moderation = load_policy(app).policy.moderation
    assert moderation.display is not None and moderation.restricted_notice == "Not now."
    assert [(d.item, d.within) for d in moderation.due] == [("alert", "2h")]


def test_a_rule_on_restricted_actors_tells_the_notice_and_hides_its_id(tmp_path: Path) -> None:
    policy = _load(tmp_path, "")
    rules = {r.id: r for r in policy.rules}
    options = {"policy_mode": Mode.ENFORCE, "on_failure": Failure.CLOSED, "unknown_is_minor": True}
    restricted = compile_rule(rules["restricted-contact-to-minor"], restricted_notice="Not now.", **options)
    stranger = compile_rule(rules["stranger-dm-to-minor"], restricted_notice="Not now.", **options)
    assert (restricted.detail, restricted.public_id) == ("Not now.", None)
    assert (stranger.detail, stranger.public_id) == (stranger.reason, "stranger-dm-to-minor")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "moderation:\n  display: {sql: 'SELECT id, name, handle FROM users'}\n",
            "5: query must use :accounts (the ids to show, as `IN :accounts`)",
        ),
        (
            "moderation:\n  display: {sql: 'SELECT id FROM users WHERE id IN :accounts AND x = :actor'}\n",
            "5: query uses :actor, but `display` is called with :accounts",
        ),
        (
            "moderation:\n  due:\n    - {item: alert, reporter_band: [minor], within: 1h}\n",
            "6: each entry of `due`: `reporter_band` applies only to `item: report`",
        ),
        (
            "moderation:\n  due:\n    - {item: report, within: soon}\n",
            "6: `within` must be a whole number and a unit: s, m, h or d (e.g. 30m, 24h, 7d); got 'soon'",
        ),
        (
            "moderation:\n  restricted_notice: ''\n",
            "5: `restricted_notice`: String should have at least 1 character",
        ),
        (
            "routes:\n  - {name: dm, method: POST, path: /m, action: direct_message, targets: [{json: to}],"
            " report_text: json.text}\n",
            "5: each entry of `routes`: `report_text` applies only to `action: report` routes",
        ),
        (
            "routes:\n  - {name: r, method: POST, path: /r, action: report, targets: [{json: to}],"
            " report_text: 'json.a[x]'}\n",
            "5: 'a[x]' is not a JSON path",
        ),
    ],
)
def test_mistakes_are_reported_at_their_line(tmp_path: Path, text: str, expected: str) -> None:
    problems = _problems(tmp_path, text)
    assert any(p.startswith(expected) for p in problems), problems
