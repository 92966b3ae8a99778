"""What a moderator's action does beyond being recorded, whether taken on a case or an item.

`restrict` and `lift` go through `alerts.Restrictions`, so enforcement sees them at once (in
this worker directly, in the others by pub/sub or their next refresh). What only the host
can do (suspend, warn, ...) is handed to it through its hooks (hooks.py). The returned text
is the action's `effect`, shown to moderators.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ..alerts.restrictions import Restrictions
from ..alerts.tables import restrictions as restriction_rows
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import storage_errors
from .hooks import HostAction, HostHooks, delivered
from .model import ModerationAction

RestrictionsSource = Restrictions | Callable[[], Restrictions]

NO_HOOK = "recorded only: no host hook is configured"


class Effects:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        restrictions: RestrictionsSource | None = None,
        hooks: HostHooks | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._engine = engine
        self._restrictions = restrictions
        self._sql_only: Restrictions | None = None
        self._hooks = hooks or HostHooks(clock=clock)
        self._clock = clock

    def _restrictions_now(self) -> Restrictions:
        if isinstance(self._restrictions, Restrictions):
            return self._restrictions
        if self._restrictions is not None:
            return self._restrictions()
        if self._sql_only is None:
            self._sql_only = Restrictions(self._engine, clock=self._clock)
        return self._sql_only

    async def apply(
        self, host: HostAction, *, note: str, reason: str, alert_id: str | None
    ) -> str | None:
        """Make `host.action` take effect on `host.account_id`; the effect, for the record."""
        action, account, by = host.action, host.account_id, host.by
        parts: list[str] = []
        if action is ModerationAction.RESTRICT:
            if await self.is_restricted(account):
                parts.append("already restricted")
            else:
                await self._restrictions_now().restrict(
                    account, reason=note or reason, alert_id=alert_id, by=by
                )
                parts.append("restricted")
        elif action is ModerationAction.LIFT:
            if not await self.is_restricted(account):
                parts.append("no active restriction")
            else:
                await self._restrictions_now().lift(account, by=by, note=note)
                parts.append("restriction lifted")
        said = await self._hooks.tell(host)
        if action is ModerationAction.SUSPEND:
            if not said:
                return NO_HOOK
            parts.append("suspended by the host" if delivered(said) else "not suspended")
        parts.extend(said)
        return "; ".join(parts)[:1000] or None

    async def is_restricted(self, account_id: str) -> bool:
        with storage_errors("reading the account's restrictions"):
            async with self._engine.connect() as conn:
                found = await conn.execute(
                    select(restriction_rows.c.id)
                    .where(
                        restriction_rows.c.account_id == account_id,
                        restriction_rows.c.lifted_at.is_(None),
                    )
                    .limit(1)
                )
                return found.first() is not None
