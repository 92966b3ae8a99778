"""The demo app behind Safe Accounts, configured by `policies/demo.yaml`: what `make demo`
serves. The app itself is unchanged; only this module knows that Safe Accounts exists.

Safe Accounts and the app share one database (the app's tables and `safe_accounts_*`),
and the policy reads age bands from the app's own `accounts.birth_date` column.

The moderation pages are mounted at `/moderation/`, behind the app's own log-in: only a
persona with the app's `moderator` role (Jo Fletcher) may use them. A suspension decided
there reaches the app through `carry_out`, which suspends the account in the app's own
`suspensions` table - the hook a platform writes for its own app.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from starlette.requests import Request
from starlette.routing import Mount

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.moderation import HostAction, moderation_app, restrictions_of

from .app import app as demo
from .app import link_staff_page, serve_pages_through, settings
from .auth import DemoUser
from .pages import STAFF_ROLES
from .service import suspensions

# `python -m demo_app --policy FILE` runs another policy on the demo (the demo's tests run
# one with a test machine's time budget).
POLICY = Path(
    os.environ.get("DEMO_APP_POLICY") or Path(__file__).resolve().parent.parent / "policies" / "demo.yaml"
)
MODERATION = "/moderation"

logger = logging.getLogger("demo_app")

app = SafeAccountsMiddleware(
    demo,
    policy=POLICY,
    database_url=settings.database_url,
    redis_url=os.environ.get("SAFE_ACCOUNTS_REDIS_URL"),
)

# The pages read the API through the middleware, so they show what it allows.
serve_pages_through(demo, app)


def is_moderator(request: Request) -> bool:
    """The app's own authentication (its session) says who may moderate."""
    user = request.scope.get("user")
    return isinstance(user, DemoUser) and user.persona.role in STAFF_ROLES


def moderator_id(request: Request) -> str:
    user = request.scope["user"]
    return str(user.account_id)


async def carry_out(action: HostAction) -> None:
    """What only the app can do, done in the app: a suspension suspends the account (it
    cannot log in, and its sessions end). Other actions need nothing more here."""
    if action.action != "suspend":
        return
    async with demo.state.runtime.require_engine().begin() as conn:
        done = await suspensions.suspend(
            conn, int(action.account_id), by=f"moderator {action.by}", now=settings.clock.now()
        )
    logger.warning("demo app: account %s %s", action.account_id, "suspended" if done else "was already suspended")


demo.router.routes.append(
    Mount(
        MODERATION,
        moderation_app(
            app.engine,
            policy=app.policy,
            is_moderator=is_moderator,
            moderator_id=moderator_id,
            restrictions=restrictions_of(app),
            on_action=carry_out,
            csrf_secret=os.environ.get("SAFE_ACCOUNTS_CSRF_SECRET"),
            export_key=os.environ.get("SAFE_ACCOUNTS_EXPORT_KEY"),
        ),
    )
)
link_staff_page(demo, "Moderation", f"{MODERATION}/")
