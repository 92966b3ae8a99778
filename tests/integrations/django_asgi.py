"""Django under ASGI, behind Safe Accounts, with the actor read from Django's own session:
docs/integrations.md."""

from __future__ import annotations

import os
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.integrations.django_site")

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.asgi import get_asgi_application
from starlette.datastructures import Headers

from safe_accounts import SafeAccountsMiddleware
from tests.integrations.django_site import delivered  # noqa: F401 - what reached the app (tests)

POLICY = Path(__file__).parent / "policies" / "django.yaml"

async def account_of(scope: dict[str, Any], headers: Headers) -> str | None:
    """The identity source: the session cookie, read through Django's own session store
    (whichever engine SESSION_ENGINE names), as django.contrib.auth reads it."""
    from importlib import import_module

    cookie = SimpleCookie()
    cookie.load(headers.get("cookie", ""))
    morsel = cookie.get(settings.SESSION_COOKIE_NAME)
    if morsel is None or not morsel.value:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=morsel.value)
    user_id = await store.aget(SESSION_KEY)
    return None if user_id is None else str(user_id)


django_app = get_asgi_application()
# After `account_of`: the policy names it, and the middleware imports it at start-up.
app = SafeAccountsMiddleware(django_app, policy=POLICY)


async def sign_in(name: str) -> dict[str, str]:
    """A Django session for `name`, as django.contrib.auth.login writes one (tests)."""
    from importlib import import_module

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, get_user_model

    from tests.integrations.world import IDS

    user, _ = await get_user_model().objects.aget_or_create(pk=IDS[name], defaults={"username": name})
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    await store.aset(SESSION_KEY, str(user.pk))
    await store.aset(BACKEND_SESSION_KEY, "django.contrib.auth.backends.ModelBackend")
    await store.aset(HASH_SESSION_KEY, user.get_session_auth_hash())
    await store.acreate()
    return {"cookie": f"{settings.SESSION_COOKIE_NAME}={store.session_key}"}

