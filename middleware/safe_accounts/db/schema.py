"""Every table of ours, imported so that `metadata` knows them all (for migrations' checks)."""

from ..bands.table import age_bands
from ..decisions.table import decision_log
from .metadata import metadata

__all__ = ["age_bands", "decision_log", "metadata"]
