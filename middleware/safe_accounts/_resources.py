"""Files that ship inside the wheel: the alembic environment and the bundled policies.

In a wheel they sit inside the package (`_migrations`, `_policies`); in a checkout
(editable install) they are the repository's top-level `migrations/` and `policies/`.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent.parent


def _locate(packaged: str, top_level: str) -> Path:
    inside = _PACKAGE / packaged
    if inside.is_dir():
        return inside
    beside = _CHECKOUT / top_level
    if beside.is_dir():
        return beside
    raise FileNotFoundError(f"{packaged} is missing from the installed package ({inside})")


def migrations_dir() -> Path:
    return _locate("_migrations", "migrations")


def policies_dir() -> Path:
    return _locate("_policies", "policies")
