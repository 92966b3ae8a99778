"""Grooming alerts: stored once per (account, signal, window), escalated to restrictions,
delivered by log line, callbacks and a signed webhook from an outbox."""

from .model import Alert, AlertStatus, LiveAlertExists, UnknownAlert
from .outbox import AlertOutbox
from .pipeline import GroomingAlerts, callback_destination
from .restrictions import Restrictions
from .service import AlertService
from .webhook import Webhook, WebhookSender, sign, verify

__all__ = [
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
