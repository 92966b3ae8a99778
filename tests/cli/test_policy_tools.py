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
        [sys.executable, "-m", "safe_accounts.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )


# Every policy file the repository ships: the bundled ones and the simulation's.
SHIPPED = sorted(
    str(path.relative_to(REPO)) for path in [*REPO.glob("policies/*.yaml"), *REPO.glob("demo_app/simulation/*.yaml")]
)


def test_every_shipped_policy_file_passes_its_own_tests_and_its_bases() -> None:
    assert {"policies/baseline.yaml", "policies/demo.yaml", "demo_app/simulation/plain-thresholds.yaml"} <= set(SHIPPED)
    done = cli("policy", "test", *SHIPPED)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAIL" not in done.stdout
    for file in SHIPPED:
        assert f"{file}: " in done.stdout, file


def test_the_bases_cases_about_a_rule_switched_off_are_skipped_and_listed(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(textwrap.dedent("""
        version: 1
        name: no-cap
        extends: baseline
        rules:
          - {id: stranger-request-cap, enabled: false}
        tests:
          - name: a case of its own that fails still fails
            accounts: {a: adult, c: under_13}
            actor: a
            action: direct_message
            target: c
            expect: allow
    """))
    done = cli("policy", "test", str(policy))
    assert done.returncode == 1
    skipped = [line for line in done.stdout.splitlines() if line.startswith("SKIP")]
    assert skipped and all("rule stranger-request-cap is switched off" in line for line in skipped)
    assert "FAIL" in done.stdout and "a case of its own that fails still fails" in done.stdout
    assert "skipped (their rule is switched off)" in done.stdout


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
          - {method: POST, path: "/api/v2/messages/{recipient_id}", action: direct_message,
             targets: [{path: recipient_id}]}
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


# --- coverage sees every route (issue 13, class 9) ------------------------------------------

FASTAPI_APP = textwrap.dedent("""
    from fastapi import APIRouter, FastAPI
    from pydantic import BaseModel

    class Message(BaseModel):
        to: int
        text: str

    messages = APIRouter(prefix="/messages")

    @messages.post("")
    async def send(message: Message):
        return {}

    users = APIRouter(prefix="/users")

    @users.get("/{user_id}")
    async def profile(user_id: int):
        return {}

    @users.post("/{user_id}/friend-requests")
    async def befriend(user_id: int):
        return {}

    @users.websocket("/{user_id}/chat")
    async def chat(websocket):
        await websocket.close()

    users.include_router(messages)   # nested: /users/messages
    v1 = APIRouter()
    v1.include_router(users)
    app = FastAPI()
    app.include_router(v1, prefix="/api/v1")
    app.include_router(messages, prefix="/api/v2")
""")

FASTAPI_POLICY = textwrap.dedent("""
    version: 1
    name: fastapi-coverage
    extends: baseline
    routes:
      - {method: POST, path: /api/v2/messages, action: direct_message, targets: [{json: to}]}
""")


def flagged(done: subprocess.CompletedProcess[str]) -> list[str]:
    """The paths of the flagged lines (`UNCOVERED  METHODS  /path  (account-like: ...)`)."""
    return [line.split()[2] for line in done.stdout.splitlines() if line.strip().startswith("UNCOVERED")]


def test_coverage_sees_the_routes_of_routers_a_fastapi_app_includes(tmp_path: Path) -> None:
    (tmp_path / "hostapp.py").write_text(FASTAPI_APP)
    (tmp_path / "policy.yaml").write_text(FASTAPI_POLICY)
    done = cli("policy", "coverage", "policy.yaml", "--app", "hostapp:app", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert sorted(flagged(done)) == [
        "/api/v1/users/messages",
        "/api/v1/users/{user_id}",
        "/api/v1/users/{user_id}/chat",
        "/api/v1/users/{user_id}/friend-requests",
    ]
    assert any("covered" in line and "/api/v2/messages" in line for line in done.stdout.splitlines())
    assert "4 of them could reach an account" in done.stdout


def test_coverage_passes_a_fastapi_app_only_when_every_included_route_is_mapped(tmp_path: Path) -> None:
    (tmp_path / "hostapp.py").write_text(FASTAPI_APP)
    (tmp_path / "policy.yaml").write_text(FASTAPI_POLICY + textwrap.indent(textwrap.dedent("""
        - {method: POST, path: /api/v1/users/messages, action: direct_message, targets: [{json: to}]}
        - {method: GET, path: "/api/v1/users/{user_id}", action: profile_view, targets: [{path: user_id}]}
        - {method: POST, path: "/api/v1/users/{user_id}/friend-requests", action: contact_request,
           targets: [{path: user_id}]}
        - {method: WEBSOCKET, path: "/api/v1/users/{user_id}/chat", action: direct_message,
           targets: [{path: user_id}]}
    """), "  "))
    done = cli("policy", "coverage", "policy.yaml", "--app", "hostapp:app", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 covered" in done.stdout and "0 of them could reach an account" in done.stdout


MOUNTS_APP = textwrap.dedent("""
    from starlette.applications import Starlette
    from starlette.endpoints import HTTPEndpoint
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Host, Mount, Route, Router
    from starlette.staticfiles import StaticFiles

    async def ok(request):
        return PlainTextResponse("ok")

    class Members(HTTPEndpoint):
        async def get(self, request):
            return PlainTextResponse("ok")

        async def put(self, request):
            return PlainTextResponse("ok")

    chat = Starlette(routes=[Route("/threads/{thread_id}/messages", ok, methods=["POST"])])
    social = Router(routes=[Route("/friends/{friend_id}", ok, methods=["POST"])])
    groups = Router(routes=[Route("/groups/{group}/members", Members)])
    app = Starlette(routes=[
        Route("/health", ok),
        Mount("/chat", app=chat),
        Mount("/social", app=social),
        Mount("/api", routes=[Mount("/v3", routes=[Mount("/g", app=groups)])]),
        Mount("/cors", app=chat, middleware=[Middleware(CORSMiddleware, allow_origins=["*"])]),
        Host("m.example.org", app=Router(routes=[Route("/inbox/{peer}", ok, methods=["POST"])])),
        Mount("/static", app=StaticFiles(directory=".")),
    ])
""")


def test_coverage_sees_mounted_apps_routers_nested_mounts_and_hosts(tmp_path: Path) -> None:
    (tmp_path / "hostapp.py").write_text(MOUNTS_APP)
    (tmp_path / "policy.yaml").write_text(POLICY)
    done = cli("policy", "coverage", "policy.yaml", "--app", "hostapp:app", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert sorted(flagged(done)) == [
        "/api/v3/g/groups/{group}/members",
        "/chat/threads/{thread_id}/messages",
        "/cors/threads/{thread_id}/messages",
        "/inbox/{peer}",
        "/social/friends/{friend_id}",
    ]
    lines = done.stdout.splitlines()
    # A class endpoint answers the methods it defines, not only GET.
    assert any("GET|PUT" in line and "/api/v3/g/groups/{group}/members" in line for line in lines)
    assert any("unclassified" in line and "/static/{path:path}" in line for line in lines)


WRAPPED_APP = textwrap.dedent("""
    from starlette.applications import Starlette
    from starlette.middleware.cors import CORSMiddleware
    from starlette.middleware.gzip import GZipMiddleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from safe_accounts import SafeAccountsMiddleware

    async def ok(request):
        return PlainTextResponse("ok")

    inner = Starlette(routes=[Route("/api/messages", ok, methods=["POST"]),
                              Route("/api/users/{user_id}/followers", ok)])
    guarded = SafeAccountsMiddleware(inner, policy="policy.yaml", database_url="sqlite+aiosqlite:///sa.db")
    app = CORSMiddleware(GZipMiddleware(guarded), allow_origins=["*"])
    stack = inner.build_middleware_stack()   # what Starlette runs: its own middleware around the router
""")


@pytest.mark.parametrize("attribute", ["app", "stack"])
def test_coverage_sees_through_middleware_wrapped_around_the_app(tmp_path: Path, attribute: str) -> None:
    (tmp_path / "hostapp.py").write_text(WRAPPED_APP)
    (tmp_path / "policy.yaml").write_text(POLICY)
    done = cli("policy", "coverage", "policy.yaml", "--app", f"hostapp:{attribute}", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert flagged(done) == ["/api/users/{user_id}/followers"]
    assert "1 covered" in done.stdout


FACTORY_APP = textwrap.dedent("""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def ok(request):
        return PlainTextResponse("ok")

    def create_app():
        return Starlette(routes=[Route("/api/messages", ok, methods=["POST"]),
                                 Route("/api/dm/{recipient_id}", ok, methods=["POST"])])

    async def create_app_async():
        return create_app()

    class App(Starlette):
        def __init__(self):
            super().__init__(routes=[Route("/api/dm/{recipient_id}", ok, methods=["POST"])])

    def create_app_with_settings(settings=None, debug=False, testing=False):
        return create_app()
""")


@pytest.mark.parametrize(
    ("attribute", "options"),
    [("create_app", ()), ("create_app_async", ()), ("App", ()), ("create_app_with_settings", ("--factory",))],
)
def test_coverage_builds_the_app_an_app_factory_makes(tmp_path: Path, attribute: str, options: tuple[str, ...]) -> None:
    (tmp_path / "hostapp.py").write_text(FACTORY_APP)
    (tmp_path / "policy.yaml").write_text(POLICY)
    done = cli("policy", "coverage", "policy.yaml", "--app", f"hostapp:{attribute}", *options, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert flagged(done) == ["/api/dm/{recipient_id}"]


def test_a_callable_that_could_be_a_factory_or_an_app_is_not_guessed(tmp_path: Path) -> None:
    (tmp_path / "hostapp.py").write_text(FACTORY_APP)
    (tmp_path / "policy.yaml").write_text(POLICY)
    done = cli("policy", "coverage", "policy.yaml", "--app", "hostapp:create_app_with_settings", cwd=tmp_path)
    assert done.returncode == 1
    assert "--factory" in done.stderr and "create_app_with_settings" in done.stderr
    assert "could reach an account" not in done.stdout


OPAQUE_APP = textwrap.dedent("""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount, Route

    async def ok(request):
        return PlainTextResponse("ok")

    async def legacy(scope, receive, send):
        pass

    class Gateway:
        def __init__(self, application):
            self.application = application

        async def __call__(self, scope, receive, send):
            await self.application(scope, receive, send)

    app = Starlette(routes=[Route("/api/messages", ok, methods=["POST"]), Mount("/legacy", app=legacy)])
    bare = legacy
    hidden = Gateway(Starlette(routes=[Route("/api/dm/{recipient_id}", ok, methods=["POST"])]))
""")


@pytest.mark.parametrize(
    ("attribute", "named"),
    [("app", "hostapp.legacy at /legacy"), ("bare", "hostapp.legacy at /"), ("hidden", "hostapp.Gateway at /")],
)
def test_coverage_fails_loudly_on_an_app_it_cannot_inspect(tmp_path: Path, attribute: str, named: str) -> None:
    (tmp_path / "hostapp.py").write_text(OPAQUE_APP)
    (tmp_path / "policy.yaml").write_text(POLICY)
    done = cli("policy", "coverage", "policy.yaml", "--app", f"hostapp:{attribute}", cwd=tmp_path)
    assert done.returncode == 1
    assert f"cannot inspect {named}" in done.stderr, done.stderr
    assert "could reach an account" not in done.stdout and "Traceback" not in done.stderr
