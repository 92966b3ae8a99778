"""The alerts package's public surface is what we mean it to be, and no more."""

import pytest

import safe_accounts.alerts as alerts
from safe_accounts.errors import ConfigurationError


def test_public_names() -> None:
    assert sorted(alerts.__all__) == [
        "Alert",
        "AlertOutbox",
        "AlertService",
        "AlertStatus",
        "GroomingAlerts",
        "LiveAlertExists",
        "Restrictions",
        "UnknownAlert",
        "Webhook",
        "WebhookSender",
        "callback_destination",
        "sign",
        "verify",
    ]
    assert all(hasattr(alerts, name) for name in alerts.__all__)


def test_a_webhook_refuses_a_bad_url_or_a_short_secret() -> None:
    with pytest.raises(ConfigurationError, match="http:// or https://"):
        alerts.Webhook("ftp://example.org/hook", b"s" * 32)
    with pytest.raises(ConfigurationError, match="at least 16 bytes"):
        alerts.Webhook("https://example.org/hook", b"short")
