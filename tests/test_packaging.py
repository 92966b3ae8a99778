"""The wheel is the product: built from the checkout, installed into a fresh virtualenv
outside it, `safe-accounts db upgrade` and `bands set/get` work there with nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


def _run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run(sys.executable, "-m", "pip", "wheel", REPO, "--no-deps", "--quiet", "-w", out)
    (built,) = out.glob("safe_accounts-*.whl")
    return built


def test_the_wheel_carries_the_migrations_and_the_policies(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "safe_accounts/_migrations/env.py" in names
    shipped_migrations = {p.name for p in (REPO / "migrations" / "versions").glob("*.py")}
    assert shipped_migrations
    assert {f"safe_accounts/_migrations/versions/{n}" for n in shipped_migrations} <= names
    policies = (
        [p for p in (REPO / "policies").rglob("*") if p.is_file()]
        if (REPO / "policies").is_dir()
        else []
    )
    expected = {
        f"safe_accounts/_policies/{p.relative_to(REPO / 'policies').as_posix()}" for p in policies
    }
    assert expected <= names, "every bundled policy file ships in safe_accounts/_policies/"
    assert not any(n.startswith(("tests/", "bench/", "demo_app/")) for n in names)


def test_the_wheel_says_its_package_is_typed(wheel: Path) -> None:
    """PEP 561: a type checker reads our annotations from the installed package."""
    assert "safe_accounts/py.typed" in zipfile.ZipFile(wheel).namelist()


def test_the_installed_wheel_works_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv)
    _run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SAFE_ACCOUNTS_", "PYTHON", "VIRTUAL_ENV"))
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"

    location = _run(
        venv / "bin" / "python",
        "-c",
        "import safe_accounts.cli as c; print(c.__file__)",
        cwd=elsewhere,
        env=env,
    )
    assert location.startswith(str(venv)), "the installed package is used, not the checkout"

    command = venv / "bin" / "safe-accounts"
    url = "sqlite+aiosqlite:///X.db"
    assert "upgraded to head" in _run(
        command, "db", "upgrade", "--database-url", url, cwd=elsewhere, env=env
    )
    _run(
        command,
        "bands",
        "set",
        "kid-1",
        "--birthdate",
        "2015-06-01",
        "--assurance",
        "verified",
        "--database-url",
        url,
        cwd=elsewhere,
        env=env,
    )
    _run(
        command,
        "bands",
        "set",
        "grown-1",
        "--band",
        "adult",
        "--database-url",
        url,
        cwd=elsewhere,
        env=env,
    )
    kid = json.loads(
        _run(
            command,
            "bands",
            "get",
            "kid-1",
            "--json",
            "--database-url",
            url,
            cwd=elsewhere,
            env=env,
        )
    )
    grown = _run(command, "bands", "get", "grown-1", "--database-url", url, cwd=elsewhere, env=env)
    assert kid["band"] in {"under_13", "13_15"} and kid["assurance"] == "verified"
    assert grown.startswith("grown-1: band adult, assurance self_declared, source cli")
    assert (elsewhere / "X.db").exists()
    current = _run(command, "db", "current", "--database-url", url, cwd=elsewhere, env=env)
    assert "up to date" in current
