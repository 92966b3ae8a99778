"""Each differential test gets its app, bare and wrapped, on a SQLite file of its own.

The file holds the app's tables and Safe Accounts' own (migrated once per session and
copied), so the policy's SQL reads the app's truth, as on a platform. The middleware gets
the app's own policy file and runs with its stores open and grooming signals on.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from safe_accounts import AgeBand, SafeAccountsMiddleware
from safe_accounts.db import migrate
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts

from .apps import chirp, clubs, mesh
from .harness import Subject


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with Safe Accounts' tables, copied for each app."""
    path = tmp_path_factory.mktemp("differential") / "migrated.db"
    asyncio.run(migrate.upgrade_url(f"sqlite+aiosqlite:///{path}"))
    return path


async def open_subject(
    name: str, tmp_path: Path, migrated: Path, build: Callable[[Path], Any], module: Any, **options: Any
) -> tuple[Subject, SafeAccountsMiddleware]:
    db = tmp_path / f"{name}.db"
    shutil.copy(migrated, db)
    host = build(db)
    policy = tmp_path / f"{name}.yaml"
    policy.write_text(options.pop("policy", module.POLICY))
    middleware = SafeAccountsMiddleware(
        host.app,
        policy=policy,
        database_url=f"sqlite+aiosqlite:///{db}",
        signals=attach_grooming_alerts(flush_interval=0.01),
        **options,
    )
    await middleware.start()
    subject = Subject(name, host.app, middleware, host.tables, module.PEOPLE, module.CONNECTIONS, module.contacts)
    return subject, middleware


async def open_chirp(
    host: Any, tmp_path: Path, migrated: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Subject]:
    """Chirp (or a variant of it, `host`) behind the middleware, for a fixture to yield from."""
    monkeypatch.setenv(chirp.KEY_ENV, chirp.KEY)
    subject, middleware = await open_subject("chirp", tmp_path, migrated, host, chirp)
    # Chirp keeps no ages: its bands are in Safe Accounts' own table (`safe-accounts bands set`).
    assert middleware.runtime is not None
    for person in chirp.PEOPLE.values():
        if person.band != "unknown":
            await middleware.runtime.bands.set(person.id, band=AgeBand(person.band))
    yield subject
    await middleware.close()
    subject.tables.close()


@pytest.fixture
async def chirp_app(tmp_path: Path, migrated: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Subject]:
    async for subject in open_chirp(chirp.Chirp, tmp_path, migrated, monkeypatch):
        yield subject


@pytest.fixture
async def mesh_app(tmp_path: Path, migrated: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Subject]:
    monkeypatch.setenv(mesh.KEY_ENV, mesh.KEY)
    subject, middleware = await open_subject("mesh", tmp_path, migrated, mesh.Mesh, mesh)
    yield subject
    await middleware.close()
    subject.tables.close()


@pytest.fixture
async def clubs_app(tmp_path: Path, migrated: Path) -> AsyncIterator[Subject]:
    subject, middleware = await open_subject("clubs", tmp_path, migrated, clubs.Clubs, clubs)
    yield subject
    await middleware.close()
    subject.tables.close()


@pytest.fixture
async def clubs_gunzipping(tmp_path: Path, migrated: Path) -> AsyncIterator[Subject]:
    """Clubs behind a layer that undoes `Content-Encoding: gzip` itself (`clubs.Gunzipping`)."""
    subject, middleware = await open_subject("clubs", tmp_path, migrated, clubs.GunzippingClubs, clubs)
    yield subject
    await middleware.close()
    subject.tables.close()
