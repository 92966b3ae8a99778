"""One fixture, four frameworks: each recipe's app, wrapped as docs/integrations.md shows,
on a database of its own holding the app's tables and ours."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from safe_accounts.policy_tools.doctor import find_middleware

from .world import build_database

RECIPES = ["starlette", "fastapi", "litestar", "django"]
MODULES = {name: f"tests.integrations.{name}_app" for name in RECIPES} | {"django": "tests.integrations.django_asgi"}


@dataclass
class Recipe:
    name: str
    app: Any
    client: httpx.AsyncClient
    sign_in: Callable[[str], Awaitable[dict[str, str]]]
    delivered: list[dict[str, Any]]


@pytest.fixture(scope="session")
def django_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Django's own tables (users, sessions), once per run: Django reads its settings once."""
    pytest.importorskip("django")
    os.environ.setdefault("RECIPE_DJANGO_DATABASE", str(tmp_path_factory.mktemp("django") / "django.db"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.integrations.django_site")
    import django
    from django.core.management import call_command

    django.setup()
    # Asked for from an async fixture: Django's ORM refuses to run on the event loop's thread.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(call_command, "migrate", verbosity=0).result()
    yield


@pytest.fixture(params=RECIPES)
async def recipe(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Recipe]:
    name: str = request.param
    if name == "django":
        request.getfixturevalue("django_database")
    else:
        pytest.importorskip(name)
    monkeypatch.setenv("SAFE_ACCOUNTS_DATABASE_URL", build_database(tmp_path / "app.db"))
    monkeypatch.setenv("RECIPE_JWT_KEY", "recipe-key-" + "x" * 32)
    sys.modules.pop(MODULES[name], None)  # a fresh app (and middleware) on this test's database
    module = importlib.import_module(MODULES[name])
    module.delivered.clear()
    transport = httpx.ASGITransport(app=module.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Recipe(name, module.app, client, module.sign_in, module.delivered)
    await find_middleware(module.app).close()
