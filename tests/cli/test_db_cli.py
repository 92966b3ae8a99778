"""`safe-accounts db`: the schema commands, and what a wrong URL says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safe_accounts.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_upgrade_then_current_says_up_to_date(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    assert cli("db", "upgrade", "--database-url", url).returncode == 0
    done = cli("db", "current", "--database-url", url)
    assert done.returncode == 0
    assert "up to date" in done.stdout


def test_an_unsupported_url_is_a_message_not_a_traceback() -> None:
    done = cli("db", "current", "--database-url", "mysql://x/y")
    assert done.returncode == 1
    assert "not supported" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_postgres_database_is_a_message_not_a_traceback(postgres_database: str) -> None:
    url = postgres_database.rsplit("/", 1)[0] + "/no_such_database_here"
    done = cli("db", "current", "--database-url", url)
    assert done.returncode == 1
    assert "does not exist" in done.stderr
    assert "Traceback" not in done.stderr
