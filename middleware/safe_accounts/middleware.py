"""`SafeAccountsMiddleware`: the under-18 protections in front of any ASGI app.

Pure ASGI (never `BaseHTTPMiddleware`: it adds a task per request and buffers bodies;
the cost is measured in docs/benchmarks.md).
`__init__` does all preparation once: the policy file is loaded, checked and compiled
(a bad file raises `PolicyError` naming file, line and reason: the app never starts
half-configured). `__call__` only looks things up:

- a request the policy does not know goes to the app untouched: no SQL, no Redis, no
  body buffering, no per-request objects;
- a known one is handled by a per-request `Enforcement`;
- a `websocket` scope on a `WEBSOCKET` route is handled by a per-connection
  `SocketGuard` (handshake check, frame filter); other websockets pass through untouched.

Stores open on the ASGI lifespan startup (or, for servers and test clients without
lifespan, on the first protected request) and close on shutdown, after the app's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson
from sqlalchemy.exc import SQLAlchemyError

from ._types import ASGIApp, Receive, Scope, Send
from .alerts.model import Alert
from .alerts.restrictions import Restrictions
from .clock import SYSTEM_CLOCK, Clock
from .config import Settings
from .db.engine import is_postgres, make_engine
from .db.pool import fill, settle
from .decide.refusal import UNAVAILABLE
from .errors import SafeAccountsError, StorageError
from .pipeline import problem
from .pipeline.app_call import AppError
from .pipeline.compiled import CompiledPolicy
from .pipeline.enforcement import Enforcement
from .pipeline.not_found import framework_of
from .pipeline.websocket import CLOSE_INTERNAL, SocketGuard
from .policy.loader import load_policy
from .runtime import Runtime, SignalsFactory, open_runtime

logger = logging.getLogger("safe_accounts")

STARTED = "safe accounts: enforcing policy %s (version %s, %d routes, %d rules)"
START_FAILED = "safe accounts: start-up failed: %s"
INTERNAL_ERROR = "safe accounts: internal error on route %s; failing closed"

# Headers and query parameters some frameworks honour to change the method: a request
# must not escape its rule by arriving as GET and being served as POST.
_OVERRIDE_HEADERS = (b"x-http-method-override", b"x-method-override", b"x-http-method")
_OVERRIDE_QUERY = ("_method", "method")

# Route-match answers remembered per (method, path, raw_path, root_path) of `http` scopes.
_ROUTE_MEMO_SIZE = 10_000
_NOWHERE = object()  # no route under any method
_ELSEWHERE = object()  # a route under another method: look for an override
_HEALTH = object()  # no route: the health endpoint


class SafeAccountsMiddleware:
    """Enforce a Safe Accounts policy in front of `app`.

    ```python
    app = SafeAccountsMiddleware(app, policy="policies/myapp.yaml",
                                 database_url="postgresql://...", redis_url="redis://...")
    # or: Starlette(middleware=[Middleware(SafeAccountsMiddleware, policy=...)])
    ```

    Every parameter after `app` is a keyword:

    - `policy`: the policy file (YAML). Loaded, checked and compiled here: a bad one
      raises `PolicyError` naming file, line and reason.
    - `database_url`, `redis_url`: default to `SAFE_ACCOUNTS_DATABASE_URL` /
      `SAFE_ACCOUNTS_REDIS_URL`, then to the embedded SQLite file and no Redis (one worker).
    - `redis_prefix`: starts every Redis key and pub/sub channel of ours; defaults to
      `SAFE_ACCOUNTS_REDIS_PREFIX`, then `safe_accounts:`. Channels also carry the Redis
      database number, so apps on one server never hear each other's invalidations when
      their prefixes or their databases differ. The CLI takes the same `--redis-prefix`.
    - `clock`: what "now" is (bands age with dates, signals slide with seconds); tests and
      simulations pass a `FrozenClock` and move it themselves.
    - `health_path`: answers the stores' state as JSON (default
      `/.well-known/safe-accounts/health`); None turns it off.
    - `on_alert`: called with each grooming `Alert` (sync or async), at least once per
      alert, from the alert outbox; `webhook_url` + `webhook_secret`: an HMAC-signed POST
      per alert, from the same outbox; `pseudonym_key`: the account ids in Redis keys
      become keyed hashes, and pending crossings are sealed (16 bytes or more; without
      it ids are stored as they are).
    - `signals`: the grooming-signal pipeline (counts, alerts, restrictions, reports);
      None turns it off. Advanced: a `SignalsFactory` of your own.

    `await middleware.drain()` waits until what this worker queued is written.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        policy: str | os.PathLike[str],
        database_url: str | None = None,
        redis_url: str | None = None,
        redis_prefix: str | None = None,
        clock: Clock = SYSTEM_CLOCK,
        health_path: str | None = "/.well-known/safe-accounts/health",
        signals: SignalsFactory | str | None = "default",
        on_alert: Callable[[Alert], Awaitable[object] | object] | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        pseudonym_key: bytes | None = None,
    ) -> None:
        self.app = app
        loaded = load_policy(Path(policy))
        for notice in loaded.notices:
            # What the policy inherits and cannot do as written: said once per worker, at start.
            logger.warning("policy %s: %s", policy, notice)
        self.settings = Settings.resolve(database_url, redis_url, redis_prefix)
        pool = loaded.policy.defaults.pool
        self.engine = make_engine(self.settings.database_url, pool_size=pool.size, max_overflow=pool.overflow)
        self.policy = CompiledPolicy(
            loaded.policy, loaded.version, self.engine, clock=clock, framework_not_found=framework_of(app)
        )
        self.clock = clock
        self.health_path = health_path
        if signals == "default":
            from .runtime.signals_wiring import attach_grooming_alerts

            self._attach: SignalsFactory | None = attach_grooming_alerts(
                on_alert=on_alert,
                webhook_url=webhook_url,
                webhook_secret=webhook_secret,
                pseudonym_key=pseudonym_key,
            )
        else:
            self._attach = signals  # type: ignore[assignment]
        self.runtime: Runtime | None = None
        self._starting: asyncio.Lock | None = None
        self._start_error: BaseException | None = None
        self._routes = self.policy.table
        self._route_memo: dict[tuple[Any, ...], Any] = {}
        self._identity = self.policy.identity
        # Read per protected request: only an `async def` identity source is awaited.
        self._identity_awaits = self._identity.is_async

    # --- ASGI ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # Matching is a pure function of these fields, and most traffic repeats a few
            # paths the policy does not know: the answer is remembered (bounded; a flood of
            # random paths only refills the memo), so an unknown route costs one lookup.
            key = (scope.get("method"), scope.get("path"), scope.get("raw_path"), scope.get("root_path"))
            known = self._route_memo.get(key)
            if known is None:
                known = self._remember(scope, key)
            if known is _NOWHERE:
                await self.app(scope, receive, send)
                return
            if known is _ELSEWHERE:
                known = self._overridden(scope)
            if known is _HEALTH or known is None:
                if known is _HEALTH or (self.health_path is not None and scope.get("path") == self.health_path):
                    await self._health(send)
                    return
                await self.app(scope, receive, send)
                return
            await self._enforce(known, scope, receive, send)
            return
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] == "websocket":
            found = self._routes.match_scope(scope)
            if found is not None:
                await self._guard_socket(found, scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _remember(self, scope: Scope, key: tuple[Any, ...]) -> Any:
        known: object = self._routes.match_scope(scope)
        if known is None:
            if self._routes.matches_under_any_method(scope):
                known = _ELSEWHERE
            elif self.health_path is not None and scope.get("path") == self.health_path:
                known = _HEALTH
            else:
                known = _NOWHERE
        if len(self._route_memo) >= _ROUTE_MEMO_SIZE:
            self._route_memo.clear()
        self._route_memo[key] = known
        return known

    def _overridden(self, scope: Scope) -> Any:
        """A path the policy knows under another method: a method override must not escape it."""
        for name in _override_methods(scope):
            found = self._routes.match_scope({**scope, "method": name})
            if found is not None:
                return found
        return None

    async def _enforce(self, found: Any, scope: Scope, receive: Receive, send: Send) -> None:
        route, params = found
        enforcement: Enforcement | None = None
        try:
            runtime = self.runtime or await self.start()
            if self._identity_awaits:
                actor = await self._identity.resolve_async(scope)
            else:
                actor = self._identity.resolve(scope)
            if actor is None:
                runtime.actors.saw_anonymous()
            else:
                runtime.actors.identified += 1
            enforcement = Enforcement(self.app, runtime, route, dict(params), scope, receive, send, actor)
            await enforcement.run()
        except AppError as exc:
            raise exc.original from None
        except Exception:  # no exception of ours reaches the server
            logger.exception(INTERNAL_ERROR, route.name)
            # Once the app has the request (or our answer has begun), the answer is theirs.
            if enforcement is None or not enforcement.handed_over:
                await problem.send_problem(send, UNAVAILABLE)

    async def _guard_socket(self, found: Any, scope: Scope, receive: Receive, send: Send) -> None:
        route, params = found
        try:
            runtime = self.runtime or await self.start()
            if self._identity_awaits:
                actor = await self._identity.resolve_async(scope)
            else:
                actor = self._identity.resolve(scope)
        except Exception:  # no exception of ours reaches the server
            logger.exception(INTERNAL_ERROR, route.name)
            await send({"type": "websocket.close", "code": CLOSE_INTERNAL, "reason": "Safety check unavailable"})
            return
        if actor is None:
            runtime.actors.saw_anonymous()
        else:
            runtime.actors.identified += 1
        try:
            await SocketGuard(self._guarded_app, runtime, route, dict(params), scope, receive, send, actor).run()
        except AppError as exc:
            raise exc.original from None

    async def _guarded_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app (as it is now), with its own exceptions marked as its own."""
        try:
            await self.app(scope, receive, send)
        except Exception as exc:  # re-raised as is by _guard_socket
            raise AppError(exc) from exc

    async def _health(self, send: Send) -> None:
        runtime = self.runtime
        report = {"status": "starting"} if runtime is None else {"status": "ok", **runtime.health()}
        body = orjson.dumps(report)
        await send({
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        })
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def wrapped_receive() -> Any:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.start()  # raises: the app's lifespan reports startup.failed
            return message

        async def wrapped_send(message: Any) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self.close()
            await send(message)

        await self.app(scope, wrapped_receive, wrapped_send)

    # --- start and stop ------------------------------------------------------------------

    async def start(self) -> Runtime:
        """Check the schema, open the stores. Idempotent; called by lifespan or the first request."""
        if self.runtime is not None:
            return self.runtime
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self.runtime is None:
                try:
                    self.runtime = await open_runtime(
                        self.policy,
                        self.engine,
                        clock=self.clock,
                        redis_url=self.settings.redis_url,
                        redis_prefix=self.settings.redis_prefix,
                        attach_signals=self._attach,
                    )
                except SafeAccountsError as exc:
                    logger.error(START_FAILED, exc)
                    raise
                if is_postgres(self.engine):
                    # The schema check above reached the server: what fails here is a
                    # connection too many, which the pool retries when a request needs it.
                    with contextlib.suppress(SQLAlchemyError, OSError):
                        await fill(self.engine)
                logger.info(
                    STARTED, self.policy.policy.name, self.policy.version,
                    len(self.policy.routes), sum(len(r.rules) for r in self.policy.rules.values()),
                )
        return self.runtime

    @property
    def restrictions(self) -> Restrictions:
        """The restrictions this middleware enforces, as the moderation app changes them
        (`restrictions_of`). Raises StorageError until it has started with grooming alerts."""
        alerts = None if self.runtime is None else self.runtime.alerts
        if alerts is None:
            raise StorageError("the Safe Accounts middleware has not started (or runs without grooming alerts)")
        return alerts.restrictions

    async def drain(self) -> None:
        """Wait until what this worker has queued so far is written: decision-log rows,
        grooming-signal events (and the alerts they raise), child-endangerment reports, and
        the alert deliveries due now. For tests and simulations, which read the tables right
        after a request; a server never needs it (the writers run in the background, and
        `close` writes what is left). Returns early only when a store refuses: the rest
        stays queued, as the health endpoint shows."""
        if self.runtime is not None:
            await self.runtime.drain()

    async def close(self) -> None:
        runtime, self.runtime = self.runtime, None
        if runtime is not None:
            await runtime.close()
        # Lookups given up on: their connections back before the pool goes (a checkout
        # still in line for one waits no longer than this).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await settle()
        await self.engine.dispose()


def _override_methods(scope: Scope) -> list[str]:
    found: list[str] = []
    for key, value in scope.get("headers") or ():
        if key in _OVERRIDE_HEADERS:
            found.append(value.decode("latin-1").strip().upper())
    query = scope.get("query_string", b"")
    if query and b"method" in query.lower():
        for key, value in parse_qsl(query.decode("latin-1")):
            if key.lower() in _OVERRIDE_QUERY:
                found.append(value.strip().upper())
    return [m for m in found if m and m != scope.get("method")]
