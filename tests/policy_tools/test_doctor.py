"""`safe-accounts policy doctor`: probe requests through the app as served say whether the
middleware sees the app's sign-in, bands, relationships and targets, and writes nothing."""

from __future__ import annotations

import importlib
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from safe_accounts.policy_tools.doctor import WRONG_WIRING, Account, diagnose, find_middleware

HERE = Path(__file__).parent
POLICY = """\
version: 1
name: doctor-app
extends: baseline
# A production budget is 250 ms; a loaded test machine can take longer over a cold query.
defaults: {time_budget_ms: 2000}
identity: [{source: scope_user, attribute: identity}]
bands:
  store: {source: host, table: users, id_column: id, birth_date_column: birth_date}
relationships:
  connected: {sql: "SELECT b FROM friendships WHERE a = :actor AND b IN :targets"}
queries:
  members: {sql: "SELECT member FROM members WHERE conversation = :conversation"}
routes:
  - {name: dm, method: POST, path: /api/messages, action: direct_message, targets: [{json: to}]}
  - {name: profile, method: GET, path: "/api/users/{id}", action: profile_view, targets: [{path: id}]}
  - {name: search, method: GET, path: /api/search, action: discovery, response: {items: "results[*]"}}
  - name: group-message
    method: POST
    path: "/api/conversations/{conversation}/messages"
    action: direct_message
    targets: [{sql: members, params: {conversation: path.conversation}}]
"""
ACCOUNTS = [
    Account("parent", (("Authorization", "Token parent"),)),
    Account("kid", (("Authorization", "Token kid"),)),
]


@pytest.fixture
def app_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    database = tmp_path / "app.db"
    url = f"sqlite+aiosqlite:///{database}"
    subprocess.run(
        [sys.executable, "-m", "safe_accounts.cli", "db", "upgrade", "--database-url", url],
        check=True,
        capture_output=True,
    )
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE users (id TEXT PRIMARY KEY, birth_date DATE)")
        db.executemany(
            "INSERT INTO users VALUES (?, ?)",
            [("parent", "1980-01-01"), ("kid", "2012-06-01"), ("stranger", "1975-01-01"), ("young", "2017-01-01")],
        )
        db.execute("CREATE TABLE friendships (a TEXT, b TEXT)")
        db.executemany("INSERT INTO friendships VALUES (?, ?)", [("parent", "kid"), ("kid", "parent")])
        db.execute("CREATE TABLE members (conversation TEXT, member TEXT)")
    (tmp_path / "policy.yaml").write_text(POLICY)
    monkeypatch.setenv("SAFE_ACCOUNTS_DATABASE_URL", url)
    monkeypatch.setenv("DOCTOR_POLICY", str(tmp_path / "policy.yaml"))
    sys.modules.pop("tests.policy_tools.doctor_app", None)
    module = importlib.import_module("tests.policy_tools.doctor_app")
    yield module
    sys.modules.pop("tests.policy_tools.doctor_app", None)


async def test_right_wiring_sees_every_account_its_band_its_parent_and_its_targets(app_module: ModuleType) -> None:
    report = await diagnose(app_module.right, find_middleware(app_module.right), ACCOUNTS)
    said = "\n".join(report.lines())
    assert report.problems == [], said
    assert "--as parent: seen as parent" in said and "--as kid: seen as kid" in said
    assert "  parent: adult" in said and "  kid: 13_15" in said
    assert "parent -> kid: connected=True" in said
    assert "dm: POST /api/messages as parent -> 200; read kid" in said  # answered by the doctor, not the app
    assert "profile: GET /api/users/kid as parent -> 200; read kid" in said
    assert "not found" in said


async def test_wrong_wiring_is_every_probe_anonymous(app_module: ModuleType) -> None:
    report = await diagnose(app_module.wrong, find_middleware(app_module.wrong), ACCOUNTS)
    assert report.problems[0] == f"identity: {WRONG_WIRING}"
    assert "  --as parent: seen as anonymous" in report.lines()


async def test_the_doctor_writes_nothing(app_module: ModuleType) -> None:
    app_module.received.clear()
    stranger = Account("stranger", (("Authorization", "Token stranger"),))
    report = await diagnose(app_module.right, find_middleware(app_module.right), [stranger], targets=["kid"])
    refused = [p for p in report.probes if p.route == "dm"]
    assert refused[0].status == 403 and refused[0].decisions[0]["rule"] == "stranger-dm-to-minor"
    assert [kind for kind, _ in app_module.received if kind == "message"] == []  # the write never reached the app
    import os
    import sqlite3 as db

    path = os.environ["SAFE_ACCOUNTS_DATABASE_URL"].split("///", 1)[1]
    with db.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM safe_accounts_decisions").fetchone() == (0,)


async def test_an_account_the_band_store_does_not_know_is_a_problem(app_module: ModuleType) -> None:
    ghost = Account("ghost", (("Authorization", "Token parent"),))
    report = await diagnose(app_module.right, find_middleware(app_module.right), [ACCOUNTS[0], ghost])
    assert any(p.startswith("bands: the band store has no record of ghost") for p in report.problems)
    assert "identity: requests signed in as ghost were seen as parent" in report.problems


def test_the_command_exits_1_naming_the_problem(app_module: ModuleType, tmp_path: Path) -> None:
    def doctor(spec: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "safe_accounts.cli", "policy", "doctor", str(tmp_path / "policy.yaml"),
             "--app", spec, "--as", "parent=Authorization: Token parent", "--as", "kid=Authorization: Token kid"],
            check=False, capture_output=True, text=True, timeout=120, cwd=HERE.parents[1],
        )

    good = doctor("tests.policy_tools.doctor_app:right")
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.strip().endswith("no problem found")
    bad = doctor("tests.policy_tools.doctor_app:wrong")
    assert bad.returncode == 1
    assert f"PROBLEM: identity: {WRONG_WIRING}" in bad.stdout
    # An app without the middleware is probed wrapped outermost: outside its own
    # authentication, where `scope_user` sees nobody - the doctor says so.
    bare = doctor("tests.policy_tools.doctor_app:bare")
    assert bare.returncode == 1
    assert "has no SafeAccountsMiddleware: probed as SafeAccountsMiddleware(app, policy=" in bare.stdout
    assert f"PROBLEM: identity: {WRONG_WIRING}" in bare.stdout


async def test_a_route_whose_lookup_finds_nobody_is_a_problem_and_one_it_cannot_build_is_said(
    app_module: ModuleType,
) -> None:
    skipped = await diagnose(app_module.right, find_middleware(app_module.right), ACCOUNTS)
    assert skipped.skipped == ["group-message: give a value for {conversation} with --param NAME=VALUE"]
    report = await diagnose(
        app_module.right, find_middleware(app_module.right), ACCOUNTS, params={"conversation": "c-1"}
    )
    assert (
        "targets: route group-message read no account from POST /api/conversations/c-1/messages naming kid: "
        "check its `targets`"
    ) in report.problems
