"""`policy test | explain | coverage`: the tools a platform engineer runs before deploying."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "safe_accounts.cli", *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env
    )


def test_the_shipped_policies_pass_their_own_tests() -> None:
    done = cli("policy", "test", "policies/baseline.yaml", "policies/demo.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "policies/baseline.yaml: 11/11 cases passed" in done.stdout


def test_a_failing_case_fails_the_run_and_says_what_it_got(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(textwrap.dedent("""
        version: 1
        name: wrong
        extends: baseline
        tests:
          - name: wrongly expects a stranger to reach a child
            accounts: {a: adult, c: under_13}
            actor: a
            action: direct_message
            target: c
            expect: allow
    """))
    done = cli("policy", "test", str(policy))
    assert done.returncode == 1
    assert "FAIL" in done.stdout and "expected allow, got deny" in done.stdout


APP = textwrap.dedent("""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount, Route, WebSocketRoute

    async def ok(request):
        return PlainTextResponse("ok")

    async def chat(websocket):
        await websocket.close()

    app = Starlette(routes=[
        Route("/api/messages", ok, methods=["POST"]),
        Route("/api/v2/messages/{recipient_id}", ok, methods=["POST"]),
        Route("/health", ok),
        Mount("/admin", routes=[Route("/users/{user_id}", ok)]),
        WebSocketRoute("/chat/ws/{recipient}", chat),
    ])
""")

POLICY = textwrap.dedent("""
    version: 1
    name: coverage
    extends: baseline
    routes:
      - {method: POST, path: /api/messages, action: direct_message, targets: [{json: to}]}
""")


def test_coverage_flags_the_routes_a_groomer_could_use_instead(tmp_path: Path) -> None:
    (tmp_path / "hostapp.py").write_text(APP)
    (tmp_path / "policy.yaml").write_text(POLICY)
    done = cli("policy", "coverage", "policy.yaml", "--app", "hostapp:app", cwd=tmp_path)
    assert done.returncode == 1
    flagged = [line for line in done.stdout.splitlines() if line.strip().startswith("UNCOVERED")]
    assert any("/api/v2/messages/{recipient_id}" in line for line in flagged)
    assert any("/admin/users/{user_id}" in line for line in flagged)
    assert any("WEBSOCKET" in line and "/chat/ws/{recipient}" in line for line in flagged)
    assert not any("/health" in line for line in flagged)


def test_a_reviewed_route_is_not_flagged(tmp_path: Path) -> None:
    (tmp_path / "hostapp.py").write_text(APP)
    (tmp_path / "policy.yaml").write_text(POLICY + textwrap.dedent("""
          - {method: POST, path: "/api/v2/messages/{recipient_id}", action: direct_message, targets: [{path: recipient_id}]}
          - {method: WEBSOCKET, path: "/chat/ws/{recipient}", action: direct_message, targets: [{path: recipient}]}
        reviewed:
          - {method: GET, path: "/admin/users/{user_id}", reason: "staff only, behind the admin gateway"}
    """))
    done = cli("policy", "coverage", "policy.yaml", "--app", "hostapp:app", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "staff only" in done.stdout and "0 of them could reach an account" in done.stdout


def test_coverage_of_an_app_that_cannot_be_imported_is_a_message(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY)
    done = cli("policy", "coverage", "policy.yaml", "--app", "nowhere:app", cwd=tmp_path)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "nowhere" in done.stderr


@pytest.mark.parametrize("request_line", ["POST", "/api/messages", "POST api/messages"])
def test_explain_refuses_a_badly_written_request(tmp_path: Path, request_line: str) -> None:
    done = cli("policy", "explain", "policies/baseline.yaml", "--request", request_line)
    assert done.returncode == 2
    assert "METHOD /path" in done.stderr


def test_explain_says_which_rule_applies_and_why(database_url: str, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    cli("bands", "set", "kid-1", "--band", "13_15", "--database-url", database_url)
    cli("bands", "set", "adult-1", "--band", "adult", "--database-url", database_url)
    done = cli(
        "policy", "explain", str(policy), "--as", "adult-1", "--request", "POST /api/messages",
        "--json", '{"to": "kid-1"}', "--database-url", database_url,
    )
    assert done.returncode == 0, done.stderr
    assert "target kid-1 (13_15)" in done.stdout
    assert "deny by rule 'stranger-dm-to-minor'" in done.stdout
    unknown = cli("policy", "explain", str(policy), "--request", "GET /elsewhere", "--database-url", database_url)
    assert "passed to the app untouched" in unknown.stdout
