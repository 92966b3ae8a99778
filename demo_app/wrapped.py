"""The demo app behind Safe Accounts, configured by `policies/demo.yaml`: what `make demo`
serves. The app itself is unchanged; only this module knows that Safe Accounts exists.

Safe Accounts and the app share one database (the app's tables and `safe_accounts_*`),
and the policy reads age bands from the app's own `accounts.birth_date` column.
"""

from __future__ import annotations

import os
from pathlib import Path

from safe_accounts import SafeAccountsMiddleware

from .app import app as demo
from .app import serve_pages_through, settings

POLICY = Path(__file__).resolve().parent.parent / "policies" / "demo.yaml"

app = SafeAccountsMiddleware(
    demo,
    policy=POLICY,
    database_url=settings.database_url,
    redis_url=os.environ.get("SAFE_ACCOUNTS_REDIS_URL"),
)

# The pages read the API through the middleware, so they show what it allows.
serve_pages_through(demo, app)
