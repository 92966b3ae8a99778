"""The middleware suite's host app, wrapped, as a server process serves it.

`uvicorn --factory tests.hardening.served:create_app` builds it from the environment, so
tests and the soak run can start real worker processes (and kill them):

  SA_SERVED_DATABASE_URL   our tables and the host's (required)
  SA_SERVED_POLICY         the policy file (required)
  SA_SERVED_REDIS_URL      signals, restrictions and invalidations (optional)
  SA_SERVED_PREFIX         the Redis key prefix of this run (optional)
  SA_SERVED_PSEUDONYM_KEY  pseudonymise account ids in Redis (optional)
"""

from __future__ import annotations

import os

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts
from tests.middleware.conftest import HostApp

DATABASE_ENV = "SA_SERVED_DATABASE_URL"
POLICY_ENV = "SA_SERVED_POLICY"
REDIS_ENV = "SA_SERVED_REDIS_URL"
PREFIX_ENV = "SA_SERVED_PREFIX"
PSEUDONYM_ENV = "SA_SERVED_PSEUDONYM_KEY"


def create_app() -> SafeAccountsMiddleware:
    key = os.environ.get(PSEUDONYM_ENV)
    return SafeAccountsMiddleware(
        HostApp().build(),
        policy=os.environ[POLICY_ENV],
        database_url=os.environ[DATABASE_ENV],
        redis_url=os.environ.get(REDIS_ENV) or None,
        redis_prefix=os.environ.get(PREFIX_ENV) or None,
        signals=attach_grooming_alerts(pseudonym_key=key.encode() if key else None),
    )
