"""The demo social app: `create_app(settings)`, and `app` configured from the environment.

Environment (all optional):
  DEMO_APP_DATABASE_URL  where the app's tables are (default: sqlite file demo.db here)
  DEMO_APP_SECRET        the key that signs log-in tokens (default: a new random one)
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http import HTTPStatus

from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp

from . import api, forms, pages
from .auth import Clock, TokenBackend, Tokens, refused
from .database import DEFAULT_DATABASE_URL, async_url, make_engine
from .problems import ConfigurationProblem, NotLoggedIn, Problem
from .runtime import Runtime
from .tables import metadata

DATABASE_URL_ENV = "DEMO_APP_DATABASE_URL"
SECRET_ENV = "DEMO_APP_SECRET"
SESSION_SECONDS = 24 * 3600
MIN_SECRET_BYTES = 32  # HS256 keys shorter than the hash are guessable (RFC 7518 3.2)


class SystemClock:
    """The real time. Any object with `now()` and `today()` can stand in for it."""

    def now(self) -> float:
        return time.time()

    def today(self) -> date:
        return datetime.now(UTC).date()


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str
    secret: str
    session_seconds: float = SESSION_SECONDS
    clock: Clock = field(default_factory=SystemClock)
    # The host app owns its tables; a demo may simply create them on start.
    create_tables: bool = True

    def __post_init__(self) -> None:
        if len(self.secret.encode()) < MIN_SECRET_BYTES:
            raise ConfigurationProblem(
                f"the token secret ({SECRET_ENV}) must be at least {MIN_SECRET_BYTES} bytes long"
            )

    @classmethod
    def from_environ(cls) -> Settings:
        # The same key must sign tokens here and verify them in front of the app (which
        # reads the environment too), so a generated key is put where both look.
        secret = os.environ.setdefault(SECRET_ENV, secrets.token_urlsafe(32))
        return cls(async_url(os.environ.get(DATABASE_URL_ENV, DEFAULT_DATABASE_URL)), secret)


def _problem_for(exc: Exception) -> Problem:
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, HTTPException):
        title = HTTPStatus(exc.status_code).phrase
        detail = exc.detail if exc.detail != title else title.lower()
        return Problem(exc.status_code, title, detail)
    return Problem(503, "Service unavailable", "the database is not reachable; try again shortly")


async def _on_error(request: Request, exc: Exception) -> Response:
    problem = _problem_for(exc)
    if forms.wants_json(request):
        return problem.response()
    if isinstance(problem, NotLoggedIn):
        return RedirectResponse("/login", status_code=303)
    return pages.render(request, "error.html", status=problem.status, problem=problem.as_dict())


async def _log_in_first(request: Request, exc: Exception) -> Response:
    return RedirectResponse("/login", status_code=303)


def create_app(settings: Settings) -> Starlette:
    """The app, ready to serve once its lifespan has started (that opens the database)."""
    runtime = Runtime(
        tokens=Tokens(settings.secret, settings.session_seconds, settings.clock),
        clock=settings.clock,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        try:
            if settings.create_tables:
                async with engine.begin() as conn:
                    await conn.run_sync(metadata.create_all)
            runtime.engine = engine
            yield
        finally:
            runtime.engine = None
            await engine.dispose()

    app = Starlette(
        routes=[*pages.routes(), *forms.routes(), *api.routes()],
        middleware=[
            Middleware(
                AuthenticationMiddleware,
                backend=TokenBackend(runtime.tokens, runtime.is_suspended),
                on_error=refused,
            )
        ],
        exception_handlers={
            Problem: _on_error,
            HTTPException: _on_error,
            DBAPIError: _on_error,
            # asyncpg reports a refused or dropped connection as an OSError.
            OSError: _on_error,
            pages.LogInFirst: _log_in_first,
        },
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    return app


def link_staff_page(app: Starlette, label: str, path: str) -> None:
    """Link a page for the app's staff (role `moderator`) from every page's header, e.g. the
    moderation pages mounted beside the app."""
    app.state.runtime.staff_links.append((label, path))


def serve_pages_through(app: Starlette, front: ASGIApp) -> None:
    """Make the pages read the API through `front`, the app that wraps this one, so that
    what sits in front (filters, redactions, refusals) applies to the pages too."""
    app.state.runtime.front = front


def __getattr__(name: str) -> object:
    """`app` and `settings`, configured from the environment when first asked for (e.g. by
    `uvicorn demo_app.app:app`): importing this module for `create_app` has no side effects."""
    if name not in ("app", "settings"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    settings = Settings.from_environ()
    globals().update(settings=settings, app=create_app(settings))
    return globals()[name]
