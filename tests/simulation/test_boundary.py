"""The simulation drives the demo app as any client would; only `stack.py` knows Safe
Accounts (as `demo_app/wrapped.py` does for the demo)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import demo_app.simulation

PACKAGE = Path(demo_app.simulation.__file__).resolve().parent


def _imports(source: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("module", sorted(p.name for p in PACKAGE.glob("*.py")))
def test_only_the_stack_module_imports_safe_accounts(module: str) -> None:
    ours = {m for m in _imports(PACKAGE / module) if m.split(".")[0] == "safe_accounts"}
    assert bool(ours) == (module == "stack.py"), ours
