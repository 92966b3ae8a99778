"""The middleware suite's host app, wrapped, as a server process serves it.

`uvicorn --factory tests.hardening.served:create_app` builds it from the environment, so
tests and the soak run can start real worker processes (and kill them):

  SA_SERVED_DATABASE_URL   our tables and the host's (required)
  SA_SERVED_POLICY         the policy file (required)
  SA_SERVED_REDIS_URL      signals, restrictions and invalidations (optional)
  SA_SERVED_PREFIX         the Redis key prefix of this run (optional)
  SA_SERVED_PSEUDONYM_KEY  pseudonymise account ids in Redis (optional)
  SA_SERVED_HEALTH_DIR     on shutdown, write each worker's final health to <dir>/<pid>.json
                           (optional: the soak run adds up what every worker wrote)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts
from tests.middleware.conftest import HostApp

DATABASE_ENV = "SA_SERVED_DATABASE_URL"
POLICY_ENV = "SA_SERVED_POLICY"
REDIS_ENV = "SA_SERVED_REDIS_URL"
PREFIX_ENV = "SA_SERVED_PREFIX"
PSEUDONYM_ENV = "SA_SERVED_PSEUDONYM_KEY"
HEALTH_DIR_ENV = "SA_SERVED_HEALTH_DIR"


def create_app() -> Any:
    app = _middleware()
    folder = os.environ.get(HEALTH_DIR_ENV)
    return app if not folder else _reporting_health(app, Path(folder))


def _reporting_health(app: SafeAccountsMiddleware, folder: Path) -> Any:
    """`app`, writing the worker's health once its lifespan shutdown has written what was
    queued: the health endpoint answers for one worker, and only while it serves."""

    async def served(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        runtime: list[Any] = []

        async def receiving() -> Any:
            message = await receive()
            if message["type"] == "lifespan.shutdown" and app.runtime is not None:
                runtime.append(app.runtime)  # the middleware lets go of it as it closes
            return message

        async def sending(message: Any) -> None:
            if message["type"] == "lifespan.shutdown.complete" and runtime:
                report = json.dumps(runtime[0].health(), default=str)
                (folder / f"{os.getpid()}.json").write_text(report)
            await send(message)

        await app(scope, receiving, sending)

    return served


def _middleware() -> SafeAccountsMiddleware:
    key = os.environ.get(PSEUDONYM_ENV)
    return SafeAccountsMiddleware(
        HostApp().build(),
        policy=os.environ[POLICY_ENV],
        database_url=os.environ[DATABASE_ENV],
        redis_url=os.environ.get(REDIS_ENV) or None,
        redis_prefix=os.environ.get(PREFIX_ENV) or None,
        signals=attach_grooming_alerts(pseudonym_key=key.encode() if key else None),
    )
