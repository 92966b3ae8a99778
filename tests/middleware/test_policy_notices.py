"""What a policy inherits and cannot do as written (a baseline signal whose lookup the host
does not declare) is said at start-up, once per notice, naming the file and line and the
lookup to declare; the middleware still starts."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from safe_accounts import SafeAccountsMiddleware
from safe_accounts._types import Receive, Scope, Send
from safe_accounts.policy import load_policy


async def app(scope: Scope, receive: Receive, send: Send) -> None:  # the host, never reached here
    raise AssertionError("not called")


async def test_start_up_logs_each_inherited_item_that_is_inactive(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    policy = tmp_path / "app.yaml"
    policy.write_text("version: 1\nname: app\nextends: baseline\n", encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="safe_accounts"):
        middleware = SafeAccountsMiddleware(
            app, policy=policy, database_url="sqlite+aiosqlite:///:memory:", signals=None
        )
    await middleware.close()

    said = [r.getMessage() for r in caplog.records if r.name == "safe_accounts"]
    inactive = [m for m in said if "signal `scattered-rejections-by-minors` is inactive" in m]
    assert len(inactive) == 1
    assert inactive[0].startswith(f"policy {policy}: ")
    assert "baseline.yaml:" in inactive[0] and "`relationships.community_ties`" in inactive[0]
    assert len(said) == len(load_policy(policy).notices)
