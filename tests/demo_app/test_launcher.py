"""`python -m demo_app`, and the line between the app and Safe Accounts: only the
launcher and `wrapped.py` may know that Safe Accounts exists."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import demo_app
from demo_app.__main__ import _band, _banner, main
from demo_app.personas import PERSONAS

PACKAGE = Path(demo_app.__file__).resolve().parent
# The app knows nothing of Safe Accounts; only the launchers that wrap it do.
ALLOWED = {
    "__main__.py": {"safe_accounts.db.migrate"},
    # The middleware, and the moderation pages it mounts beside the app.
    "wrapped.py": {"safe_accounts", "safe_accounts.moderation"},
    "simulation/stack.py": {
        "safe_accounts",
        "safe_accounts.alerts.tables",
        "safe_accounts.clock",
        "safe_accounts.db.engine",
        "safe_accounts.db.migrate",
        "safe_accounts.decisions.table",
        # A sweep's policies are checked as the middleware loads them, before a run starts.
        "safe_accounts.policy.loader",
        "safe_accounts.policy.model",
        "safe_accounts.runtime.signals_wiring",
    },
}


def imported_modules(source: Path) -> set[str]:
    tree = ast.parse(source.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize(
    "module", sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")), ids=str
)
def test_the_app_imports_nothing_from_safe_accounts(module: str) -> None:
    ours = {m for m in imported_modules(PACKAGE / module) if m.split(".")[0] == "safe_accounts"}
    assert ours == ALLOWED.get(module, set())


def test_the_banner_names_the_urls_and_every_persona() -> None:
    banner = _banner("http://127.0.0.1:8000", bare=False, policy="policies/demo.yaml")
    assert "http://127.0.0.1:8000/login" in banner and "/api/login" in banner
    assert "behind Safe Accounts (policies/demo.yaml)" in banner
    for p in PERSONAS:
        assert p.handle in banner and p.display_name in banner
    assert "the app alone" in _banner("http://127.0.0.1:8000", bare=True, policy="policies/demo.yaml")


@pytest.mark.parametrize(
    ("age", "band"),
    [(12, "under_13"), (13, "13_15"), (15, "13_15"), (16, "16_17"), (17, "16_17"), (18, "adult")],
)
def test_the_banner_bands_follow_the_ages(age: int, band: str) -> None:
    assert _band(age) == band


def test_a_bad_database_url_stops_the_launcher_with_a_message(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--database-url", "mysql://nowhere/db"]) == 2
    assert "not supported" in capsys.readouterr().err


def test_a_policy_file_that_is_not_there_stops_the_launcher_with_a_message(capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "nowhere.yaml"
    assert main(["--database-url", f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}", "--policy", str(missing)]) == 2
    assert f"--policy {missing}: no such file" in capsys.readouterr().err
