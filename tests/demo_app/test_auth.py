"""Log-in tokens: one HS256 JWT for the cookie and the bearer header, naming the account
in `sub`, expiring on the app's clock; and the identity as Starlette's `request.user`."""

from __future__ import annotations

import httpx
import jwt
import pytest
from demo_support import ID, SECRET

from demo_app.app import Settings
from demo_app.auth import SESSION_COOKIE, Persona, Tokens
from demo_app.problems import ConfigurationProblem
from safe_accounts.clock import FrozenClock

MIA = Persona(1, "mia", "Mia Patel")


def tokens(clock: FrozenClock, secret: str = SECRET) -> Tokens:
    return Tokens(secret, 3600, clock)


def test_a_token_names_its_persona(clock: FrozenClock) -> None:
    issued = tokens(clock).issue(MIA)
    assert tokens(clock).persona(issued) == MIA
    claims = jwt.decode(issued, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims["sub"] == "1" and claims["exp"] == int(clock.now()) + 3600


def test_a_token_expires_on_the_apps_clock(clock: FrozenClock) -> None:
    issued = tokens(clock).issue(MIA)
    clock.advance(3600)
    assert tokens(clock).persona(issued) == MIA
    clock.advance(1)
    assert tokens(clock).persona(issued) is None


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        jwt.encode(
            {"sub": "1", "exp": 4_000_000_000}, "another-key-that-is-long-enough-too!!", "HS256"
        ),
        jwt.encode({"sub": "1", "exp": 4_000_000_000}, None, "none"),
        jwt.encode({"sub": "1"}, SECRET, "HS256"),  # no expiry
        jwt.encode({"sub": "mia", "exp": 4_000_000_000}, SECRET, "HS256"),  # not an id
    ],
)
def test_a_bad_token_names_nobody(clock: FrozenClock, token: str) -> None:
    assert tokens(clock).persona(token) is None


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ConfigurationProblem, match="at least 32 bytes"):
        Settings("sqlite+aiosqlite:///x.db", "short")


async def test_the_user_identity_is_the_account_id_as_text(
    app, anonymous: httpx.AsyncClient
) -> None:  # type: ignore[no-untyped-def]
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def who(request: Request) -> JSONResponse:
        user = request.user
        return JSONResponse({"identity": user.identity, "name": user.display_name})

    app.router.routes.append(Route("/whoami", who))
    token = (await anonymous.post("/api/login", json={"handle": "leo"})).json()["token"]
    response = await anonymous.get("/whoami", headers={"authorization": f"Bearer {token}"})
    assert response.json() == {"identity": str(ID["leo"]), "name": "Leo Patel"}


async def test_the_bearer_token_wins_over_the_cookie(anonymous: httpx.AsyncClient) -> None:
    await anonymous.post("/login", data={"handle": "mia"})
    token = (await anonymous.post("/api/login", json={"handle": "zoe"})).json()["token"]
    assert (await anonymous.get("/api/me")).json()["handle"] == "mia"
    me = await anonymous.get("/api/me", headers={"authorization": f"Bearer {token}"})
    assert me.json()["handle"] == "zoe"


async def test_a_stale_cookie_still_lets_the_log_in_page_load(anonymous: httpx.AsyncClient) -> None:
    anonymous.cookies.set(SESSION_COOKIE, "stale.token.value")
    assert (await anonymous.get("/login")).status_code == 200
    assert (await anonymous.get("/api/me")).status_code == 401


async def test_a_session_expires_with_the_clock(
    anonymous: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await anonymous.post("/login", data={"handle": "mia"})
    clock.advance(24 * 3600 + 1)
    assert (await anonymous.get("/api/me")).status_code == 401
