"""Start-up: loading and compiling a policy (`load_policy` + `CompiledPolicy`), the work
`SafeAccountsMiddleware.__init__` does once before the app serves anything.

A policy of 200 routes is generated into a temporary file: it extends the bundled baseline,
spreads its routes over every action and every target source (path, query, JSON paths,
form fields, named SQL queries; lists with a response shape), and has the relationship
queries of a real deployment. The demo app's policy is measured beside it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

from safe_accounts.pipeline.compiled import CompiledPolicy
from safe_accounts.policy.loader import load_policy

from ._report import Row, median

SECTION = "startup"
ROUNDS = 15
ROUTES = 200
TARGET_MS = 100.0
DEMO_SECRET = "DEMO_APP_SECRET"
DEMO_POLICY = Path(__file__).resolve().parent.parent / "policies" / "demo.yaml"

# (action, method, target source, response shape): cycled over the 200 routes.
_KINDS: list[tuple[str, str, dict[str, object] | None, dict[str, object] | None]] = [
    ("direct_message", "POST", {"json": "to"}, None),
    ("direct_message", "POST", {"json": "participants[*].id"}, None),
    (
        "direct_message",
        "POST",
        {"sql": "members", "params": {"conversation": "path.id", "me": "actor"}},
        None,
    ),
    ("contact_request", "POST", {"path": "id"}, None),
    ("contact_request", "POST", {"form": "to"}, None),
    ("profile_view", "GET", {"path": "id"}, {"id": "id", "redact": ["location", "school"]}),
    ("discovery", "GET", None, {"items": "results[*]", "id": "id"}),
    ("discovery", "GET", {"query": "of"}, {"items": "page.items[*]", "id": "account.id"}),
    ("report", "POST", {"json": "reported.id"}, None),
    ("block", "POST", {"query": "account"}, None),
]


def generated_policy(routes: int = ROUTES) -> dict[str, object]:
    entries: list[dict[str, object]] = []
    for i in range(routes):
        action, method, source, response = _KINDS[i % len(_KINDS)]
        entry: dict[str, object] = {
            "name": f"route-{i}",
            "method": method,
            # A literal first segment per area, a parameter where the target needs one.
            "path": f"/api/area{i % 20}/{action.replace('_', '-')}{i}/{{id}}",
            "action": action,
        }
        if source is not None:
            entry["targets"] = [source]
        if response is not None:
            entry["response"] = response
        entries.append(entry)
    return {
        "version": 1,
        "name": "bench-startup",
        "extends": "baseline",
        "identity": [
            {"source": "header", "header": "x-account-id", "trusted_proxies": ["127.0.0.1/32"]}
        ],
        "relationships": {
            "connected": {"sql": "SELECT b FROM friendships WHERE a = :actor AND b IN :targets"},
            "mutual_count": {
                "sql": "SELECT COUNT(*) FROM friendships WHERE a = :actor AND b = :target"
            },
        },
        "queries": {
            "members": {
                "sql": "SELECT user_id FROM members"
                " WHERE conversation_id = :conversation AND user_id <> :me"
            }
        },
        "routes": entries,
    }


def load_and_compile(path: Path) -> CompiledPolicy:
    loaded = load_policy(path)
    return CompiledPolicy(loaded.policy, loaded.version, identity=True)


def median_ms(path: Path) -> tuple[float, float, float, int]:
    """Medians of load, compile and both together, in ms; and the compiled route count."""
    compiled = load_and_compile(path)  # imports and first-use work happen once, outside
    load_ms: list[float] = []
    compile_ms: list[float] = []
    total_ms: list[float] = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        loaded = load_policy(path)
        loaded_at = time.perf_counter()
        CompiledPolicy(loaded.policy, loaded.version, identity=True)
        done = time.perf_counter()
        load_ms.append((loaded_at - start) * 1e3)
        compile_ms.append((done - loaded_at) * 1e3)
        total_ms.append((done - start) * 1e3)
    return median(load_ms), median(compile_ms), median(total_ms), len(compiled.routes)


@contextlib.contextmanager
def demo_secret() -> Iterator[None]:
    """The demo policy verifies JWTs with a key from the environment; any key will do to
    compile it, and the environment is left as it was."""
    before = os.environ.get(DEMO_SECRET)
    os.environ.setdefault(DEMO_SECRET, "bench-startup-not-a-secret")
    try:
        yield
    finally:
        if before is None:
            del os.environ[DEMO_SECRET]


def run() -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp, demo_secret():
        generated = Path(tmp) / "policy.yaml"
        generated.write_text(yaml.safe_dump(generated_policy(), sort_keys=False))
        for what, path in (
            (f"policy of {ROUTES} routes (extends baseline, every target source)", generated),
            (f"demo policy (`policies/{DEMO_POLICY.name}`)", DEMO_POLICY),
        ):
            load, compile_, total, routes = median_ms(path)
            figure = (
                f"{total:.1f} ms ({load:.1f} ms load and check, {compile_:.1f} ms compile;"
                f" {routes} routes)"
            )
            rows.append(Row(SECTION, f"`load_policy` + `CompiledPolicy`: {what}", figure,
                            f"<= {TARGET_MS:.0f} ms", total <= TARGET_MS))
            print(f"  {what}: {figure}", flush=True)
    return rows
