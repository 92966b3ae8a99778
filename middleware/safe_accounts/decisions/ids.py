"""Decision ids: what ties a response header, a problem document and a decision-log row together."""

from __future__ import annotations

import secrets


def new_decision_id() -> str:
    """Unguessable and short: 12 random bytes as hex."""
    return secrets.token_hex(12)
