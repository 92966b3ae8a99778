"""How accounts appear to moderators: the host app's display name and handle, not a bare id.

The policy's `moderation.display` lookup (SQL against the host's tables, or a callable)
gets the ids in `:accounts` and answers rows of (id, display name, handle). One lookup per
page, for every account on it. When the host cannot answer, moderators still see the ids:
a queue that stops working because the app's users table is slow would help nobody.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ..errors import SafeAccountsError
from ..policy.model import PolicyFile
from ..relations.lookup import Lookup, compile_lookup

logger = logging.getLogger("safe_accounts.moderation")

DISPLAY_FAILED = "moderation: the display lookup failed, showing account ids: %s"
MAX_ACCOUNTS = 500  # ids per lookup: a page shows far fewer


@dataclass(frozen=True, slots=True)
class Account:
    """An account as a moderator sees it."""

    id: str
    name: str | None = None
    handle: str | None = None

    @property
    def label(self) -> str:
        """`Alex Turner (@stranger)`, or the bare id when the host does not say."""
        if self.name and self.handle:
            return f"{self.name} (@{self.handle})"
        return self.name or (f"@{self.handle}" if self.handle else self.id)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "display_name": self.name, "handle": self.handle}


class AccountNames:
    """`await names.of(ids)`: every id's `Account` (the bare id where the host says nothing)."""

    def __init__(self, lookup: Lookup | None = None) -> None:
        self._lookup = lookup

    @classmethod
    def of_policy(cls, policy: PolicyFile | None, engine: AsyncEngine | None) -> AccountNames:
        spec = None if policy is None else policy.moderation.display
        return cls(None if spec is None else compile_lookup("moderation.display", spec, engine))

    @property
    def configured(self) -> bool:
        return self._lookup is not None

    async def of(self, ids: Iterable[str | None]) -> Mapping[str, Account]:
        wanted = list(dict.fromkeys(i for i in ids if i))
        found: dict[str, Account] = {i: Account(i) for i in wanted}
        if self._lookup is None or not wanted:
            return found
        try:
            for start in range(0, len(wanted), MAX_ACCOUNTS):
                chunk = wanted[start : start + MAX_ACCOUNTS]
                for row in await self._lookup.rows(accounts=chunk):
                    if not row or row[0] is None:
                        continue
                    account = str(row[0])
                    if account in found:
                        name = _text(row[1]) if len(row) > 1 else None
                        handle = _text(row[2]) if len(row) > 2 else None
                        found[account] = Account(account, name, handle)
        except (SafeAccountsError, OSError, TypeError, ValueError) as exc:
            logger.warning(DISPLAY_FAILED, exc)
        return found


def _text(value: Any) -> str | None:
    return None if value is None else str(value).strip() or None
