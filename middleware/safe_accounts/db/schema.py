"""Every table of ours, imported so that `metadata` knows them all (for migrations' checks)."""

from ..alerts.tables import alert_outbox, alerts, restrictions
from ..bands.table import age_bands
from ..decisions.table import decision_log
from ..moderation import tables as _moderation_tables  # noqa: F401 - registers its tables
from .metadata import metadata

__all__ = ["age_bands", "alert_outbox", "alerts", "decision_log", "metadata", "restrictions"]
