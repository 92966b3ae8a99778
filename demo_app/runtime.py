"""What every request handler needs from the app: the engine, the clock, the tokens,
and the front door that pages read through. Built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.types import ASGIApp

from .auth import Clock, DemoUser, Persona, Tokens
from .problems import Problem, not_logged_in
from .service import accounts, suspensions


@dataclass(slots=True)
class Runtime:
    tokens: Tokens
    clock: Clock
    engine: AsyncEngine | None = None  # made by the app's lifespan
    # The outermost app, for the pages' reads (see loopback.py); the app itself by default.
    front: ASGIApp | None = field(default=None)
    # Pages for the app's staff (role `moderator`), linked from every page: (label, path).
    staff_links: list[tuple[str, str]] = field(default_factory=list)

    def require_engine(self) -> AsyncEngine:
        if self.engine is None:
            raise RuntimeError("the demo app has not started: run it inside its lifespan")
        return self.engine

    async def log_in(self, handle: str) -> tuple[str, Any]:
        """A token for the persona `handle` (the API's and the pages' log-in), and its row."""
        async with self.require_engine().connect() as conn:
            row = await accounts.by_handle(conn, handle)
            suspended = row is not None and await suspensions.is_suspended(conn, row.id)
        if row is None:
            raise Problem(401, "Unknown persona", f"there is no account with handle {handle!r}")
        if suspended:
            raise Problem(403, "Account suspended", "this account has been suspended by the app's moderators")
        return self.tokens.issue(Persona(row.id, row.handle, row.display_name, row.role)), row

    async def is_suspended(self, account_id: int) -> bool:
        """For the authentication backend: a suspended account's session ends at once."""
        if self.engine is None:
            return False
        async with self.engine.connect() as conn:
            return await suspensions.is_suspended(conn, account_id)


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def actor(request: Request) -> int:
    """The logged-in account's id, or a 401."""
    user = request.scope.get("user")
    if not isinstance(user, DemoUser):
        raise not_logged_in()
    return user.account_id
