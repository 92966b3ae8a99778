"""The README's "Using it in your app" runs as written: its policy checks clean, its own
and the baseline's tests pass, and its `policy explain` line answers."""

from __future__ import annotations

import os
import re
import shlex
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
POLICY = re.search(r"```yaml\n# policies/myapp\.yaml\n(.*?)```", README, re.DOTALL)
COMMANDS = [line.split("#", 1)[0].strip() for line in README.splitlines() if line.startswith("safe-accounts policy ")]


@pytest.fixture
def myapp(tmp_path: Path) -> dict[str, str]:
    assert POLICY is not None, "the README shows policies/myapp.yaml"
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "myapp.yaml").write_text(POLICY.group(1))
    database = tmp_path / "app.db"
    url = f"sqlite+aiosqlite:///{database}"
    subprocess.run([sys.executable, "-m", "safe_accounts.cli", "db", "upgrade", "--database-url", url], check=True)
    with sqlite3.connect(database) as db:  # the app's own tables, as the policy reads them
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, birth_date DATE)")
        fourteen = date.today().replace(day=1).replace(year=date.today().year - 14)  # 13_15 whenever this runs
        db.executemany("INSERT INTO users VALUES (?, ?)", [(42, "1980-01-01"), (7, fourteen.isoformat())])
        db.execute("CREATE TABLE friendships (user_id INTEGER, friend_id INTEGER)")
    return {**os.environ, "SAFE_ACCOUNTS_DATABASE_URL": url}


@pytest.mark.parametrize("command", [c for c in COMMANDS if " --app " not in c], ids=lambda c: c.split()[2])
def test_the_readmes_policy_commands_run_as_written(myapp: dict[str, str], tmp_path: Path, command: str) -> None:
    args = shlex.split(command)
    assert args[0] == "safe-accounts"
    done = subprocess.run(
        [sys.executable, "-m", "safe_accounts.cli", *args[1:]], cwd=tmp_path, env=myapp,
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    if args[2] == "explain":
        assert "POST /api/messages: route" in done.stdout
        assert "target 7 (13_15)" in done.stdout and "deny by rule 'stranger-dm-to-minor'" in done.stdout


def test_the_readme_shows_each_command_with_its_file() -> None:
    assert {c.split()[2] for c in COMMANDS} >= {"check", "test", "explain", "coverage", "doctor"}
    assert all(c.split()[3] == "policies/myapp.yaml" for c in COMMANDS)
