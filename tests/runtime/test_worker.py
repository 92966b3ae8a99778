"""What a running worker holds, by name: the stores a decision reads (`runtime.facts`), the
grooming-signal pipeline (`runtime.alerts`), the report log (`runtime.reports`), and the
restrictions the moderation app changes (`middleware.restrictions`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette

from safe_accounts import FrozenClock, SafeAccountsMiddleware, StorageError
from safe_accounts.alerts.pipeline import GroomingAlerts
from safe_accounts.moderation import restrictions_of
from safe_accounts.moderation.reports import ReportLog
from tests.middleware.conftest import POLICY


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


async def test_the_moderation_apps_restrictions_are_the_ones_the_requests_read(
    policy_file: Path, database_url: str
) -> None:
    middleware = SafeAccountsMiddleware(
        Starlette(), policy=policy_file, database_url=database_url, clock=FrozenClock(1_800_000_000)
    )
    current = restrictions_of(middleware)
    with pytest.raises(StorageError, match="has not started"):
        current()
    runtime = await middleware.start()
    try:
        assert isinstance(runtime.alerts, GroomingAlerts) and isinstance(runtime.reports, ReportLog)
        assert current() is middleware.restrictions is runtime.alerts.restrictions
        await current().restrict("someone", reason="a test", by="moderator-1")
        # What a decision reads (`Facts.restrictions`) is what the moderators changed.
        assert runtime.facts.restrictions.is_restricted("someone")
    finally:
        await middleware.close()


async def test_without_grooming_alerts_there_are_no_restrictions_to_change(
    policy_file: Path, database_url: str
) -> None:
    middleware = SafeAccountsMiddleware(Starlette(), policy=policy_file, database_url=database_url, signals=None)
    runtime = await middleware.start()
    try:
        assert runtime.alerts is None and runtime.reports is None
        with pytest.raises(StorageError, match="without grooming alerts"):
            _ = middleware.restrictions
        assert not runtime.facts.restrictions.is_restricted("anyone")
    finally:
        await middleware.close()
