"""Where a command finds the database and Redis: option, environment, `.env`, default; and a
command that expects a database never creates an empty SQLite file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from demo_app.__main__ import write_dotenv
from tests.conftest import Ran

Cli = Callable[..., Ran]


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The commands run in a folder of this test's own, as a user runs them in theirs."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def upgraded(cli: Cli, path: Path) -> str:
    url = f"sqlite+aiosqlite:///{path}"
    assert cli("db", "upgrade", "--database-url", url).code == 0
    return url


@pytest.mark.parametrize(
    "args",
    [
        ("alerts", "list"),
        ("bands", "get", "a"),
        ("db", "current"),
        ("report", "transparency", "--from", "2024-01-01", "--to", "2024-01-31"),
        ("purge", "--older-than", "30"),
    ],
    ids=" ".join,
)
def test_a_command_that_reads_refuses_a_missing_sqlite_file_and_creates_none(
    cli: Cli, here: Path, args: tuple[str, ...]
) -> None:
    ran = cli(*args)
    assert ran.code == 1
    assert f"error: there is no database at {here / 'safe_accounts.db'}" in ran.err
    assert "from the default" in ran.err and "SAFE_ACCOUNTS_DATABASE_URL" in ran.err
    assert "Traceback" not in ran.err
    assert list(here.iterdir()) == []


def test_the_message_says_where_the_url_came_from(cli: Cli, here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "from --database-url" in cli("alerts", "list", "--database-url", f"sqlite:///{here}/typo.db").err
    monkeypatch.setenv("SAFE_ACCOUNTS_DATABASE_URL", f"sqlite:///{here}/typo.db")
    assert "from $SAFE_ACCOUNTS_DATABASE_URL" in cli("alerts", "list").err
    assert list(here.iterdir()) == []


def test_db_upgrade_creates_the_database_but_not_a_folder(cli: Cli, here: Path) -> None:
    assert cli("db", "upgrade").code == 0
    assert (here / "safe_accounts.db").is_file()
    ran = cli("db", "upgrade", "--database-url", f"sqlite:///{here}/no/such/folder/x.db")
    assert ran.code == 1
    assert "the folder" in ran.err and "does not exist" in ran.err


def test_a_dotenv_line_names_the_database(cli: Cli, here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    upgraded(cli, here / "app.db")
    monkeypatch.setenv("MYAPP_DATA", str(here))
    (here / ".env").write_text(
        "# the app's settings, as python-dotenv and compose read them\n"
        "export SAFE_ACCOUNTS_DATABASE_URL='sqlite:///${MYAPP_DATA}/app.db'\nOTHER=1\n"
    )
    ran = cli("alerts", "list")
    assert (ran.code, ran.out.strip()) == (0, "no alerts"), ran.err
    assert not (here / "safe_accounts.db").exists()


def test_the_option_and_the_environment_come_before_dotenv(
    cli: Cli, here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgraded(cli, here / "real.db")
    (here / ".env").write_text(f"SAFE_ACCOUNTS_DATABASE_URL=sqlite:///{here}/stale.db\n")
    assert "stale.db" in cli("alerts", "list").err
    assert cli("alerts", "list", "--database-url", f"sqlite:///{here}/real.db").code == 0
    monkeypatch.setenv("SAFE_ACCOUNTS_DATABASE_URL", f"sqlite:///{here}/real.db")
    assert cli("alerts", "list").code == 0
    assert not (here / "stale.db").exists()


def test_a_bad_redis_url_in_dotenv_is_a_message(cli: Cli, here: Path) -> None:
    url = upgraded(cli, here / "app.db")
    (here / ".env").write_text("SAFE_ACCOUNTS_REDIS_URL=http://cache:6379\n")
    ran = cli("bands", "set", "a", "--band", "adult", "--database-url", url)
    assert ran.code == 1
    assert "must start with redis://" in ran.err


def test_the_demo_writes_a_dotenv_the_commands_read(cli: Cli, here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    upgraded(cli, here / "demo.db")
    (here / ".env").write_text("DEMO_APP_SECRET=kept\n")
    monkeypatch.setenv("SAFE_ACCOUNTS_REDIS_URL", "redis://127.0.0.1:6379/3")
    written = write_dotenv("sqlite+aiosqlite:///demo.db", here)
    text = written.read_text()
    assert "DEMO_APP_SECRET=kept" in text
    assert f"SAFE_ACCOUNTS_DATABASE_URL=sqlite+aiosqlite:///{here}/demo.db" in text
    assert "SAFE_ACCOUNTS_REDIS_URL=redis://127.0.0.1:6379/3" in text
    monkeypatch.delenv("SAFE_ACCOUNTS_REDIS_URL")
    elsewhere = here / "sub"
    elsewhere.mkdir()
    (elsewhere / ".env").write_text(text)
    monkeypatch.chdir(elsewhere)
    assert cli("alerts", "list").out.strip() == "no alerts"
