"""Log-in as a persona: signed tokens, and the identity Starlette's way.

One token format serves both the pages (in the `demo_session` cookie) and the JSON API
(`Authorization: Bearer ...`): an HS256 JWT whose `sub` is the account id. A component
in front of the app that knows the key (the `DEMO_APP_SECRET` environment variable)
can therefore name the actor from the request alone, before the app has run.

Expiry is checked against the app's clock, not the wall clock, so a simulation that
moves time moves sessions with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.requests import HTTPConnection
from starlette.responses import Response

from .problems import NotLoggedIn

SESSION_COOKIE = "demo_session"
ALGORITHM = "HS256"


class Clock(Protocol):
    """Any object with these two methods (the system time, or a simulated clock)."""

    def now(self) -> float: ...

    def today(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class Persona:
    """Who is logged in, as the token says."""

    account_id: int
    handle: str
    name: str
    role: str = ""  # the app's own staff roles ("moderator") are read from here


class DemoUser(BaseUser):
    """The authenticated account, as Starlette's `request.user`: `.identity` is the
    account id as a string."""

    def __init__(self, persona: Persona) -> None:
        self.persona = persona

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.persona.name

    @property
    def identity(self) -> str:
        return str(self.persona.account_id)

    @property
    def account_id(self) -> int:
        return self.persona.account_id

    @property
    def handle(self) -> str:
        return self.persona.handle


@dataclass(frozen=True, slots=True)
class Tokens:
    secret: str
    lifetime: float
    clock: Clock

    def issue(self, persona: Persona) -> str:
        claims = {
            "sub": str(persona.account_id),
            "handle": persona.handle,
            "name": persona.name,
            "role": persona.role,
            "exp": int(self.clock.now() + self.lifetime),
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def persona(self, token: str) -> Persona | None:
        """The persona a token names, or None if it is forged, malformed or expired."""
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                options={"verify_exp": False, "require": ["sub", "exp"]},
            )
        except jwt.PyJWTError:
            return None
        sub, exp = claims.get("sub"), claims.get("exp")
        if not (isinstance(sub, str) and sub.isdigit() and isinstance(exp, int | float)):
            return None
        if exp < self.clock.now():
            return None
        return Persona(
            int(sub),
            str(claims.get("handle", "")),
            str(claims.get("name", "")),
            str(claims.get("role", "")),
        )


SuspendedCheck = Callable[[int], Awaitable[bool]]


async def _never(account_id: int) -> bool:
    return False


class TokenBackend(AuthenticationBackend):
    """A bearer token wins over the cookie. A bad bearer token is a 401 (an API client
    must know); a bad cookie only means "not logged in" (the log-in page must still load).
    A suspended account's token is refused the same way: its session ends at once."""

    def __init__(self, tokens: Tokens, suspended: SuspendedCheck = _never) -> None:
        self.tokens = tokens
        self.suspended = suspended

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            persona = self.tokens.persona(token.strip()) if scheme.lower() == "bearer" else None
            if persona is None:
                raise AuthenticationError("the bearer token is invalid or has expired")
            if await self.suspended(persona.account_id):
                raise AuthenticationError("this account has been suspended")
            return AuthCredentials(["authenticated"]), DemoUser(persona)
        cookie = conn.cookies.get(SESSION_COOKIE)
        persona = self.tokens.persona(cookie) if cookie else None
        if persona is None or await self.suspended(persona.account_id):
            return None
        return AuthCredentials(["authenticated"]), DemoUser(persona)


def refused(conn: HTTPConnection, exc: Exception) -> Response:
    return NotLoggedIn(str(exc)).response()
