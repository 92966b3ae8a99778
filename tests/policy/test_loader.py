"""The policy loader: a good file becomes one validated policy; a bad one stops with every
problem, each with its file, line and a reason a person can act on. Never a traceback."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safe_accounts.errors import PolicyError, PolicyProblem
from safe_accounts.policy import LoadedPolicy, load_policy, policy_version
from safe_accounts.policy import loader as loader_module
from safe_accounts.policy.model import Mode, Outcome

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
GOOD = FIXTURES / "good"
BAD = FIXTURES / "bad"


def relative(path: Path) -> Path:
    return path.relative_to(ROOT)


@pytest.fixture(autouse=True)
def _at_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # Problems name files as they were given; relative names keep the expectations readable.
    monkeypatch.chdir(ROOT)


def problems_of(path: Path | str) -> list[PolicyProblem]:
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert caught.value.problems, "a PolicyError always carries its problems"
    return caught.value.problems


def write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- a good policy ---------------------------------------------------------------------------


def test_a_policy_that_extends_a_base_is_merged_and_validated() -> None:
    loaded = load_policy(relative(GOOD / "app.yaml"))

    assert isinstance(loaded, LoadedPolicy)
    assert loaded.files == (relative(GOOD / "base.yaml"), relative(GOOD / "app.yaml"))
    assert loaded.policy.name == "test-app"
    assert [route.name for route in loaded.policy.routes] == ["send-message", "new-conversation", None]
    assert [rule.id for rule in loaded.policy.rules] == [
        "stranger-dm-to-minor",
        "hide-minor-profile",
        "no-anonymous-search",
    ]


def test_an_entry_with_a_base_id_changes_only_the_fields_it_gives() -> None:
    policy = load_policy(relative(GOOD / "app.yaml")).policy
    rule = policy.rules[0]

    assert rule.mode is Mode.MONITOR  # from the app
    assert rule.then is Outcome.DENY  # from the base
    assert rule.when.connected is False  # from the base
    assert rule.reason.startswith("Accounts that are not connected")


def test_mappings_merge_key_by_key_and_identity_is_replaced_whole() -> None:
    policy = load_policy(relative(GOOD / "app.yaml")).policy

    assert policy.defaults.time_budget_ms == 100  # the app's
    assert policy.defaults.on_failure == "closed"  # the base's
    assert policy.relationships.connected is not None  # the base's, untouched
    assert set(policy.queries) == {"conversation-members"}
    assert [source.source for source in policy.identity] == ["header"]


def test_signals_and_rates_come_through_from_the_base() -> None:
    policy = load_policy(relative(GOOD / "app.yaml")).policy

    assert [count.id for count in policy.signals.counts] == ["rejected-by-minors", "requests-to-minors"]
    assert policy.signals.rates[0].escalate.restrict is True


def test_extends_chains_follow_every_link_base_first() -> None:
    loaded = load_policy(relative(GOOD / "team.yaml"))

    assert loaded.files == tuple(relative(GOOD / n) for n in ("base.yaml", "app.yaml", "team.yaml"))
    assert loaded.policy.mode is Mode.MONITOR
    assert loaded.policy.rules[1].then is Outcome.REDACT
    assert loaded.policy.rules[0].mode is Mode.MONITOR  # the app's change survives the team's


def test_where_locates_each_merged_value_in_the_file_that_wrote_it() -> None:
    loaded = load_policy(relative(GOOD / "app.yaml"))
    app, base = str(relative(GOOD / "app.yaml")), str(relative(GOOD / "base.yaml"))

    assert loaded.where(("rules", 0, "mode")) == (app, line_of(GOOD / "app.yaml", "    mode: monitor"))
    assert loaded.where(("rules", 0, "then")) == (base, line_of(GOOD / "base.yaml", "    then: deny"))
    assert loaded.where(("relationships", "connected", "sql")) == (
        base,
        line_of(GOOD / "base.yaml", "    sql: \"SELECT friend_id"),
    )
    assert loaded.where(("rules", 0, "enabled")) is None  # a default: written nowhere
    assert loaded.where(("rules", 99)) is None


def line_of(path: Path, start: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.startswith(start):
            return number
    raise AssertionError(f"{start!r} not in {path}")


def test_a_bare_name_extends_the_bundled_policy_of_that_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # The policies bundled with the package, swapped for fixtures the test can name.
    monkeypatch.setattr(loader_module._resources, "policies_dir", lambda: FIXTURES / "bundled")  # noqa: SLF001

    loaded = load_policy(relative(GOOD / "uses-bundled.yaml"))

    assert loaded.files[0] == FIXTURES / "bundled" / "baseline.yaml"
    assert loaded.policy.rules[0].id == "stranger-dm-to-minor"
    assert loaded.policy.routes[0].path == "/dm/{to}"


def test_an_unknown_bundled_name_lists_the_bundled_policies(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The policies bundled with the package, swapped for fixtures the test can name.
    monkeypatch.setattr(loader_module._resources, "policies_dir", lambda: FIXTURES / "bundled")  # noqa: SLF001
    path = write(tmp_path, "version: 1\nname: x\nextends: baseline-v9\n")

    [problem] = problems_of(path)

    assert (problem.line, problem.reason) == (
        3,
        "`extends: baseline-v9`: no bundled policy of that name (bundled: baseline)",
    )


# --- the version hash ---------------------------------------------------------------------------


def test_the_version_is_sixteen_hex_digits_of_the_merged_policy() -> None:
    loaded = load_policy(relative(GOOD / "app.yaml"))

    assert re.fullmatch(r"[0-9a-f]{16}", loaded.version)
    assert loaded.version == policy_version(loaded.policy)


def test_the_version_ignores_layout_and_follows_content(tmp_path: Path) -> None:
    block = "version: 1\nname: v\nrules:\n  - id: r\n    action: report\n    then: allow\n    reason: x\n"
    flow = (
        "# same policy, other spelling\nname: v\nversion: 1\nrules: [{reason: x, then: allow, action: report, id: r}]\n"
    )
    other = block.replace("then: allow", "then: deny")

    versions = [load_policy(write(tmp_path, text, f"{i}.yaml")).version for i, text in enumerate([block, flow, other])]

    assert versions[0] == versions[1]
    assert versions[2] != versions[0]


# --- bad policies: every fixture under fixtures/bad lists the problems it must produce -----------

_EXPECT = re.compile(r"^# expect: (?:(?P<file>[\w.-]+\.yaml):)?(?P<line>\d+): (?P<reason>.+)$", re.M)


@pytest.mark.parametrize("fixture", sorted(BAD.glob("*.yaml")), ids=lambda p: p.stem)
def test_each_bad_fixture_reports_exactly_its_expected_problems(fixture: Path) -> None:
    expected = [
        (m["file"] or fixture.name, int(m["line"]), m["reason"]) for m in _EXPECT.finditer(fixture.read_text())
    ]
    assert expected, f"{fixture.name} lists no `# expect:` lines"

    found = problems_of(relative(fixture))

    unmatched = list(found)
    for file, line, reason in expected:
        match = next(
            (p for p in unmatched if Path(p.file).name == file and p.line == line and reason in p.reason),
            None,
        )
        assert match is not None, f"expected {file}:{line}: {reason}\nfound:\n" + "\n".join(map(str, found))
        unmatched.remove(match)
    assert not unmatched, "unexpected problems:\n" + "\n".join(map(str, unmatched))


def test_problems_name_the_field_path_in_the_merged_policy() -> None:
    found = problems_of(relative(BAD / "fields.yaml"))

    assert [p.path for p in found if p.line == 4] == ["rules[0].then"]
    assert str(found[0]) == (
        f"{relative(BAD / 'fields.yaml')}:4: `then` must be one of allow, filter, redact, hide, deny; "
        "got 'block' (rules[0].then)"
    )


def test_problems_come_sorted_by_file_of_the_chain_then_line(tmp_path: Path) -> None:
    write(tmp_path, "version: 1\nname: b\nrules:\n  - {id: a, action: report, then: maybe, reason: x}\n", "base.yaml")
    path = write(tmp_path, "extends: base.yaml\nmode: loud\nname: 5\n")

    found = problems_of(path)

    assert [(Path(p.file).name, p.line) for p in found] == [("base.yaml", 4), ("policy.yaml", 2), ("policy.yaml", 3)]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (
            "version: 1\nname: x\nextends: [a]\n",
            3,
            "`extends` must name a bundled policy (`baseline`) or a relative path",
        ),
        ("version: 1\nname: x\n<<: {mode: monitor}\n", 3, "YAML merge keys (`<<`) are not supported: use `extends`"),
        ("version: 1\nname: x\n[a]: b\n", 3, "a key must be plain text, not a list or mapping"),
        ("version: 1\nname: x\ndefaults: &d {max_body_bytes: 5, x: *d}\n", 3, "recursive alias"),
        ("version: 1\nname: x\nmode: !!int nope\n", 3, "cannot read 'nope' as int"),
        ("version: 2\nname: x\n", 1, "`version` must be one of 1; got 2"),
        ("name: x\n", 1, "`version` is required"),
        ("version: 1\nname: x\nrouts: []\n", 3, "unknown key `routs` (did you mean `routes`?)"),
        ("version: 1\nname: x\nbands: {store: {source: host}}\n", 3, "`table` is required"),
        ("version: 1\nname: x\nidentity: [{header: x}]\n", 3, "needs a `source`"),
        ("version: 1\nname: x\nroutes: [{method: [GET, 5], path: /a, action: report}]\n", 3, "must be text; got 5"),
        (
            "version: 1\nname: x\nroutes: [{method: {GET: 1}, path: /a, action: report}]\n",
            3,
            "`method` must be text or a list of text; got a mapping",
        ),
        ("version: 1\nname: x\ndefaults: [1]\n", 3, "`defaults` must be a mapping; got a list"),
        ("version: 1\nname: x\nrules: {a: 1}\n", 3, "`rules` must be a list; got a mapping"),
        (
            "version: 1\nname: x\n"
            "signals: {counts: [{id: a, event: contact_request, window: 0d, threshold: 1, reason: r}]}\n",
            3,
            "`window` must be longer than zero",
        ),
        (
            "version: 1\nname: x\n"
            "rules: [{id: a, action: report, when: {target_band: [13_15]}, then: deny, reason: r}]\n",
            3,
            'got 1315 (YAML reads an unquoted 13_15 as the number 1315: write "13_15")',
        ),
        (
            "version: 1\nname: x\n"
            "tests: [{name: t, accounts: {}, mutual: {a b: 1}, action: discovery, expect: filter}]\n",
            3,
            "`mutual` keys name a pair as `a,b`; got 'a b'",
        ),
        (
            "version: 1\nname: x\ntests: [{name: t, accounts: {kid: 16_17}, action: discovery, expect: filter}]\n",
            3,
            'got 1617 (YAML reads an unquoted 16_17 as the number 1617: write "16_17")',
        ),
    ],
)
def test_each_kind_of_mistake_gets_a_reason_at_its_line(tmp_path: Path, text: str, line: int, reason: str) -> None:
    found = problems_of(write(tmp_path, text))

    assert any(p.line == line and reason in p.reason for p in found), "\n".join(map(str, found))


def test_unreadable_files_are_problems_not_exceptions(tmp_path: Path) -> None:
    (tmp_path / "not-utf8.yaml").write_bytes(b"version: 1\nname: \xff\xfe\n")

    assert [p.reason for p in problems_of(tmp_path / "missing.yaml")] == ["no such file"]
    assert [p.reason for p in problems_of(tmp_path)] == ["is a directory, not a policy file"]
    assert [p.reason for p in problems_of(tmp_path / "not-utf8.yaml")] == ["not UTF-8 text (line 2)"]


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    found = problems_of(write(tmp_path, "\n".join(lines) + "\n"))

    assert [p.reason for p in found] == ["the document expands to more than 200000 values (aliases?)"]


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    found = problems_of(write(tmp_path, "version: 1\nname: x\ntests: " + "[" * 500 + "]" * 500 + "\n"))

    assert any("nested more than" in p.reason for p in found)


# --- never anything but PolicyError ------------------------------------------------------------

_TOKENS = st.sampled_from(list("abc:-[]{}&*!|>'\"#%@`,.? \n\t0129")) | st.sampled_from(
    ["version: 1\n", "name: x\n", "rules:\n", "routes:\n", "  - ", "id: ", "then: ", "deny", "extends: ",
     "<<: ", "!!python/name:os.system ", "*a ", "&a ", "path: /x/{id}", "sql: ", "\n  ", "\n    "]
)
_YAMLISH = st.lists(_TOKENS, max_size=60).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_YAMLISH)
def test_arbitrary_yamlish_text_is_accepted_or_a_policy_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    try:
        load_policy(path)
    except PolicyError as exc:
        assert exc.problems
        assert all(isinstance(p, PolicyProblem) and p.reason for p in exc.problems)


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=True)
    | st.text(max_size=8)
    | st.sampled_from(
        ["deny", "monitor", "minor", "/a/{id}", "path.id", "select 1", "GET", "header", "jwt", "7d", "[*]"]
    )
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _mutate(document: object, steps: list[tuple[int, int, object]]) -> object:
    """Replace, delete or add one value per step, somewhere in the document."""
    for choice, action, drawn in steps:
        value = copy.deepcopy(drawn)  # never the same object twice: no cycles
        containers: list[object] = []
        stack = [document]
        while stack:
            node = stack.pop()
            if isinstance(node, dict | list):
                containers.append(node)
                stack.extend(node.values() if isinstance(node, dict) else node)
        target = containers[choice % len(containers)]
        if isinstance(target, dict) and target:
            key = sorted(target, key=str)[choice % len(target)]
            if action == 0:
                del target[key]
            else:
                target[key] = value
        elif isinstance(target, list) and target:
            target[choice % len(target)] = value
        elif isinstance(target, dict):
            target["extra"] = value
    return document


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.integers(0, 500), st.integers(0, 2), _VALUES), min_size=1, max_size=4))
def test_mutated_valid_policies_are_accepted_or_a_policy_error(tmp_path: Path, steps: list) -> None:
    documents = {
        name: yaml.safe_load((GOOD / name).read_text()) for name in ("base.yaml", "app.yaml")
    }
    _mutate(documents["app.yaml"], steps)
    _mutate(documents["base.yaml"], steps[::-1])
    for name, document in documents.items():
        write(tmp_path, yaml.safe_dump(document, allow_unicode=True), name)
    try:
        load_policy(tmp_path / "app.yaml")
    except PolicyError as exc:
        assert exc.problems
        assert {Path(p.file).name for p in exc.problems} <= {"app.yaml", "base.yaml"}


# --- tests from a base -------------------------------------------------------------------------


def test_a_base_policys_tests_run_beside_the_extending_files_own(tmp_path: Path) -> None:
    path = write(tmp_path, """\
version: 1
name: app
extends: baseline
tests:
  - name: a teacher can message her pupil
    accounts: {teacher: adult, pupil: "13_15"}
    connections: [[teacher, pupil]]
    actor: teacher
    action: direct_message
    target: pupil
    expect: allow
""")
    names = [case.name for case in load_policy(path).policy.tests]

    assert names[-1] == "a teacher can message her pupil"
    assert "an adult stranger cannot message a 14-year-old" in names[:-1]


def test_a_test_named_like_one_of_the_bases_is_an_error_at_both_places(tmp_path: Path) -> None:
    path = write(tmp_path, """\
version: 1
name: app
extends: baseline
tests:
  - name: adults message adults freely
    accounts: {a: adult, b: "13_15"}
    actor: a
    action: direct_message
    target: b
    expect: allow
""")
    [problem] = problems_of(path)

    assert (problem.file, problem.line) == (str(path), 5)
    baseline = ROOT / "policies" / "baseline.yaml"
    line = next(
        n for n, text in enumerate(baseline.read_text().splitlines(), 1) if "name: adults message adults freely" in text
    )
    assert problem.reason == (
        f"duplicate test name `adults message adults freely` (also at {baseline}:{line}): "
        "the base's tests run too, so give this one a name of its own"
    )
