"""`safe-accounts policy explain`: the restrictions in force count, and it says what will
happen to the app's answer (filtered, redacted) and what is recorded after it (counted)."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from safe_accounts.alerts.restrictions import Restrictions
from safe_accounts.db.engine import make_engine

POLICY = """\
version: 1
name: explained
extends: baseline
relationships:
  connected: {sql: "SELECT friend_id FROM friendships WHERE user_id = :actor AND friend_id IN :targets"}
routes:
  - {name: dm, method: POST, path: /api/messages, action: direct_message, targets: [{json: to}]}
  - {name: befriend, method: POST, path: /api/friend-requests, action: contact_request, targets: [{json: to}]}
  - {name: search, method: GET, path: /api/search, action: discovery, response: {items: "results[*]"}}
  - name: profile
    method: GET
    path: /api/users/{id}
    action: profile_view
    targets: [{path: id}]
    response: {redact: [location, school], lists: ["friends[*]"]}
  - {name: v1-dm, method: POST, path: /api/v1/messages, action: direct_message, outcome: deny, reason: Update the app.}
"""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safe_accounts.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    assert cli("db", "upgrade", "--database-url", url).returncode == 0
    with sqlite3.connect(tmp_path / "app.db") as db:
        db.execute("CREATE TABLE friendships (user_id TEXT, friend_id TEXT)")
        db.execute("INSERT INTO friendships VALUES ('parent', 'kid'), ('kid', 'parent')")
    for account, band in [("parent", "adult"), ("kid", "13_15"), ("young", "under_13"), ("stranger", "adult")]:
        assert cli("bands", "set", account, "--band", band, "--database-url", url).returncode == 0
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    return policy, url


def explain(policy: Path, url: str, *args: str) -> str:
    done = cli("policy", "explain", str(policy), "--database-url", url, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_restriction_in_force_changes_the_verdict(setup: tuple[Path, str]) -> None:
    policy, url = setup
    dm = ("--as", "parent", "--request", "POST /api/messages", "--json", '{"to": "kid"}')
    assert "decision: allow (no rule applies)" in explain(policy, url, *dm)

    async def restrict() -> None:
        engine = make_engine(url)
        try:
            await Restrictions(engine).restrict("parent", reason="an alert", by="mod")
        finally:
            await engine.dispose()

    asyncio.run(restrict())
    said = explain(policy, url, *dm)
    assert "actor: parent (adult, restricted by a moderator or an alert)" in said
    assert "decision: deny by rule 'restricted-contact-to-minor' (enforce)" in said


def test_a_search_says_its_answer_is_filtered_for_this_viewer(setup: tuple[Path, str]) -> None:
    said = explain(*setup, "--as", "stranger", "--request", "GET /api/search?q=kid")
    assert "response: the accounts listed at results[*] filtered for this viewer" in said
    assert "minors-out-of-stranger-discovery" in said


def test_a_profile_says_what_is_redacted_and_which_lists_are_filtered(setup: tuple[Path, str]) -> None:
    said = explain(*setup, "--as", "stranger", "--request", "GET /api/users/kid")
    assert "decision: redact by rule 'redact-minor-profile-for-strangers'" in said
    assert "response: redacted: location, school removed from the answer" in said
    assert "response: the list at friends[*] filtered for this viewer" in said
    said = explain(*setup, "--as", "stranger", "--request", "GET /api/users/young")
    assert "decision: hide" in said  # an under-13's profile is hidden from adult strangers
    assert "response:" not in said  # a hidden profile never reaches the client


def test_a_contact_request_says_what_it_counts_towards(setup: tuple[Path, str]) -> None:
    said = explain(*setup, "--as", "stranger", "--request", "POST /api/friend-requests", "--json", '{"to": "kid"}')
    assert "after a 2xx answer: a `contact_request` event is recorded (counted by " in said
    assert "requests-to-minors-30d" in said


def test_a_route_with_a_fixed_outcome_refuses_every_request(setup: tuple[Path, str]) -> None:
    said = explain(*setup, "--as", "parent", "--request", "POST /api/v1/messages", "--json", '{"to": "kid"}')
    assert "decision: deny by 'route:v1-dm' (enforce): the route refuses every request" in said
    assert "reason: Update the app." in said
