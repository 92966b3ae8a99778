"""Secrets never appear in logs, problem details or the health report.

A run is driven with every secret the middleware may hold - a database password in the
URL, a Redis password, a JWT key, a webhook secret - while the stores fail (so that
errors, retries and tracebacks are logged), and everything it printed or answered is
searched for them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import jwt
import pytest
from sqlalchemy import select

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.alerts.tables import alert_outbox
from safe_accounts.clock import FrozenClock
from safe_accounts.db import migrate
from safe_accounts.db.engine import make_engine
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts
from tests.asgi import Lifespan
from tests.middleware.conftest import POLICY, HostApp, seed

from .postgres_server import free_port
from .support import eventually

DB_PASSWORD = "db-Pa55word-4b1c"
REDIS_PASSWORD = "redis-Pa55word-93fe"
JWT_KEY = "jwt-signing-key-0f6a2d9e7c1b4a58b3e2d1c0f9e8d7c6"
WEBHOOK_SECRET = "webhook-secret-5d2e8a1f"
# Many webhook receivers (chat incoming hooks, SIEM collectors) put their credential in the URL.
WEBHOOK_URL_TOKEN = "hook-url-token-7e19c0"
SECRETS = (DB_PASSWORD, REDIS_PASSWORD, JWT_KEY, WEBHOOK_SECRET, WEBHOOK_URL_TOKEN)
KEY_ENV = "SA_HARDENING_JWT_KEY"

JWT_POLICY = POLICY.replace(
    """identity:
  - source: header
    header: x-account-id
    trusted_proxies: ["127.0.0.1/32"]
""",
    f"""identity:
  - source: jwt
    key_env: {KEY_ENV}
""",
)


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def _bearer(account: str, clock: FrozenClock, key: str = JWT_KEY) -> dict[str, str]:
    token = jwt.encode({"sub": account, "exp": clock.now() + 600}, key, algorithm="HS256")
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
def jwt_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    assert JWT_POLICY != POLICY
    monkeypatch.setenv(KEY_ENV, JWT_KEY)
    path = tmp_path / "jwt-policy.yaml"
    path.write_text(JWT_POLICY)
    return path


async def test_unreachable_stores_with_passwords_in_their_urls_leak_nothing(
    jwt_policy: Path, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    closed = free_port()  # nothing listens there: every connection is refused
    middleware = SafeAccountsMiddleware(
        HostApp().build(), policy=jwt_policy, clock=clock,
        database_url=f"postgresql://safeaccounts:{DB_PASSWORD}@127.0.0.1:{closed}/platform",
        redis_url=f"redis://:{REDIS_PASSWORD}@127.0.0.1:{closed}/0",
        signals=attach_grooming_alerts(webhook_url=f"http://127.0.0.1:{closed}/hook", webhook_secret=WEBHOOK_SECRET),
    )
    answers: list[httpx.Response] = []
    with caplog.at_level(logging.DEBUG):
        # Start-up through the lifespan, as a server does: it fails, and says why.
        with pytest.raises(Exception) as failed:  # whatever it is, it must not leak
            async with Lifespan(middleware):
                pass
        # Start-up on the first protected request, as servers without lifespan do.
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://t") as client:
            answers.append(await client.post("/api/v1/messages", json={"to": "kid"}, headers=_bearer("adult", clock)))
            answers.append(await client.get("/api/search", headers=_bearer("adult", clock, key="another-key-" * 4)))
            answers.append(await client.get("/.well-known/safe-accounts/health"))
        await middleware.close()
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert answers[0].headers["content-type"] == "application/problem+json"
    assert _leaks(str(failed.value)) == []
    for answer in answers:
        assert _leaks(answer.text) == [] and _leaks(str(answer.headers)) == []
    assert caplog.records, "the failures were logged"
    assert _leaks(caplog.text) == []
    assert _leaks(repr(middleware.engine.url)) == [] and _leaks(repr(middleware.settings)) == []


@pytest.mark.parametrize(
    "hook",
    [
        "/hook",
        pytest.param(
            f"/hooks/{WEBHOOK_URL_TOKEN}?token={WEBHOOK_URL_TOKEN}",
            id="credential-in-url",
        ),
    ],
)
async def test_failing_webhooks_and_forged_tokens_leak_nothing(
    hook: str, jwt_policy: Path, clock: FrozenClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'secrets.db'}"
    await migrate.upgrade_url(url)
    engine = make_engine(url)
    await seed(engine, clock)
    middleware = SafeAccountsMiddleware(
        HostApp().build(), policy=jwt_policy, database_url=url, clock=clock,
        signals=attach_grooming_alerts(
            webhook_url=f"http://127.0.0.1:{free_port()}{hook}", webhook_secret=WEBHOOK_SECRET,
            flush_interval=0.01, outbox_poll_interval=0.02,
        ),
    )
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        async with Lifespan(middleware):
            transport = httpx.ASGITransport(app=middleware)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                for child in ("kid", "young", "teen"):  # three children block the adult: an alert
                    response = await client.post(
                        "/api/blocks", json={"account": "adult"}, headers=_bearer(child, clock)
                    )
                    assert response.status_code == 200
                forged = await client.post(
                    "/api/v1/messages", json={"to": "kid"}, headers=_bearer("parent", clock, key="forged-" * 6)
                )
                assert forged.status_code == 403  # a forged token names nobody: anonymous
                texts += [forged.text, str(forged.headers)]
                texts.append((await client.get("/.well-known/safe-accounts/health")).text)

                async def delivery_failed() -> bool:
                    async with engine.connect() as conn:
                        errors = (await conn.execute(select(alert_outbox.c.last_error))).scalars().all()
                    return any(errors)

                await eventually(delivery_failed, what="the webhook delivery is attempted and fails")
                async with engine.connect() as conn:
                    texts += [str(e) for e in (await conn.execute(select(alert_outbox.c.last_error))).scalars()]
    await engine.dispose()
    assert "webhook" in caplog.text.lower() or any("onnect" in t for t in texts)
    assert [t for t in texts if _leaks(t)] == []
    assert _leaks(caplog.text) == []
