"""The one module of the simulation that knows Safe Accounts (as `demo_app/wrapped.py` is
for the demo): the migrations, the middleware in front of the app, and the logs read back.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import func, select
from starlette.types import ASGIApp

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.alerts.tables import alerts
from safe_accounts.clock import FrozenClock
from safe_accounts.db.engine import make_engine
from safe_accounts.db.migrate import upgrade_url
from safe_accounts.decisions.table import decision_log
from safe_accounts.policy.loader import load_policy
from safe_accounts.policy.model import PolicyFile
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts

SECRET_ENV = "DEMO_APP_SECRET"
RELOAD_NEVER = 7 * 24 * 3600.0  # seconds of real time

__all__ = [
    "FrozenClock",
    "Raised",
    "SafeAccountsMiddleware",
    "migrate",
    "policy_signals",
    "read_logs",
    "read_policy",
    "restricted_notice",
    "wrap",
]


async def migrate(url: str) -> None:
    await upgrade_url(url)


@contextlib.contextmanager
def _signing_key(secret: str) -> Iterator[None]:
    """The policy's identity reads the app's token key from the environment once, when the
    middleware is built; put it there for that moment only."""
    before = os.environ.get(SECRET_ENV)
    os.environ[SECRET_ENV] = secret
    try:
        yield
    finally:
        if before is None:
            del os.environ[SECRET_ENV]
        else:
            os.environ[SECRET_ENV] = before


def wrap(
    app: ASGIApp, *, policy: Path, database_url: str, clock: FrozenClock, secret: str
) -> SafeAccountsMiddleware:
    """The app behind the middleware, as `demo_app/wrapped.py` does it, on the simulated
    clock and the in-process signal store (no Redis)."""
    # The restrictions' periodic reload from SQL runs on the real clock and can race an
    # alert's own update of the set: within a run there is one process and the alert service
    # keeps the set current, so the reload is put beyond the run's length.
    signals = attach_grooming_alerts(restrictions_refresh_interval=RELOAD_NEVER)
    with _signing_key(secret):
        return SafeAccountsMiddleware(
            app,
            signals=signals,
            policy=policy,
            database_url=database_url,
            redis_url=None,
            clock=clock,
            health_path=None,
        )


def restricted_notice(front: SafeAccountsMiddleware) -> str:
    """What the policy tells a restricted account when it refuses it (no rule is named)."""
    return front.policy.policy.moderation.restricted_notice


def drain(front: SafeAccountsMiddleware) -> Callable[[], Awaitable[None]]:
    """The middleware's `drain`: writes what was queued, and raises the alerts crossed, now."""
    return front.drain


class Raised(NamedTuple):
    """An alert as the store keeps it: the signal that raised it, and the crossings that
    joined it while it was open (`counts` holds each other signal's figure by its id)."""

    subject: str
    signal: str
    created_at: float
    joined_by: tuple[str, ...]  # other signals whose crossings joined the alert
    crossings: int  # every crossing the alert holds, the first included


def policy_signals(front: SafeAccountsMiddleware) -> frozenset[str]:
    """The ids of the policy's count and rate signals."""
    signals = front.policy.policy.signals
    return frozenset([s.id for s in signals.counts] + [s.id for s in signals.rates])


def read_policy(path: Path) -> PolicyFile:
    """The policy at `path`, loaded and checked as the middleware loads it (its `extends`
    merged); a policy that does not load raises the loader's file:line error."""
    return load_policy(path).policy


async def read_logs(
    database_url: str, signals: frozenset[str]
) -> tuple[list[dict[str, Any]], list[Raised]]:
    """Protections fired (by rule, action, outcome, mode) and alerts raised, in order."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            d = decision_log.c
            rows = await conn.execute(
                select(d.rule, d.action, d.outcome, d.mode, func.count(), func.sum(d.affected))
                .group_by(d.rule, d.action, d.outcome, d.mode)
                .order_by(d.rule, d.action, d.outcome, d.mode)
            )
            protections = [
                {
                    "rule": r[0],
                    "action": r[1],
                    "outcome": r[2],
                    "mode": r[3],
                    "decisions": r[4],
                    "affected": int(r[5] or 0),
                }
                for r in rows
            ]
            a = alerts.c
            found = await conn.execute(
                select(a.subject, a.signal, a.created_at, a.counts).order_by(
                    a.created_at, a.subject, a.signal
                )
            )
            raised = [
                Raised(
                    str(r[0]),
                    str(r[1]),
                    float(r[2]),
                    tuple(sorted(k for k in r[3] if k in signals and k != r[1])),
                    int(r[3].get("crossings", 1)),
                )
                for r in found
            ]
    finally:
        await engine.dispose()
    return protections, raised
