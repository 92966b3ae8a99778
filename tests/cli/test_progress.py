"""Long commands show a progress bar on a terminal, and nothing of it anywhere else."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from safe_accounts.moderation.retention import PURGE_STEPS
from tests.conftest import Ran


def on_a_terminal(*args: str, cwd: Path) -> str:
    """`safe-accounts ARGS` with its standard output and error on a pseudo-terminal, as in a
    shell: everything it wrote there."""
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFE_ACCOUNTS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "safe_accounts.cli", *args],
        stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, cwd=cwd, env=env,
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the follower side closed: the command has ended
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert process.wait(timeout=300) == 0, seen.decode(errors="replace")
    return seen.decode(errors="replace")


@pytest.fixture
def bands_csv(tmp_path: Path) -> Path:
    csv = tmp_path / "bands.csv"
    csv.write_text("account_id,birth_date,band,assurance\n" + "".join(f"a{i},,adult,\n" for i in range(1200)))
    return csv


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    subprocess.run(
        [sys.executable, "-m", "safe_accounts.cli", "db", "upgrade", "--database-url", url],
        check=True,
        capture_output=True,
    )
    return url


def test_bands_import_draws_a_bar_on_a_terminal(bands_csv: Path, database: str, tmp_path: Path) -> None:
    seen = on_a_terminal(
        "bands", "import", str(bands_csv), "--database-url", database, "--batch-size", "500", cwd=tmp_path
    )
    assert "importing" in seen and "1200/1200" in seen, seen
    assert "1200 rows written in 3 batches" in seen
    assert "batch 1 (lines 2-501): written" not in seen  # the bar says it


def test_bands_import_into_a_pipe_prints_its_lines_and_no_bar(cli, bands_csv: Path, database: str) -> None:  # type: ignore[no-untyped-def]
    ran: Ran = cli("bands", "import", str(bands_csv), "--database-url", database, "--batch-size", "500")
    assert ran.code == 0, ran.err
    assert "batch 1 (lines 2-501): written, 500 rows" in ran.out
    assert "importing" not in ran.out + ran.err and "%" not in ran.out + ran.err


def test_purge_draws_its_steps_on_a_terminal(database: str, tmp_path: Path) -> None:
    seen = on_a_terminal("purge", "--older-than", "30", "--database-url", database, cwd=tmp_path)
    assert "clearing resolved alerts' evidence" in seen and f"{len(PURGE_STEPS)}/{len(PURGE_STEPS)}" in seen
    assert "decision-log rows deleted" in seen


def test_purge_into_a_pipe_prints_only_its_result(cli, database: str) -> None:  # type: ignore[no-untyped-def]
    ran: Ran = cli("purge", "--older-than", "30", "--database-url", database)
    assert ran.code == 0 and ran.err == ""
    assert ran.out.startswith("purged before ")


@pytest.mark.slow
def test_simulate_draws_a_bar_of_days_on_a_terminal(tmp_path: Path) -> None:
    seen = on_a_terminal("simulate", "--accounts", "100", "--days", "2", "--groomers", "1", cwd=tmp_path)
    assert "simulating days" in seen and "2/2" in seen
