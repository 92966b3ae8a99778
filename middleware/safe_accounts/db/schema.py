"""Every table of ours, imported so that `metadata` knows them all (for migrations' checks)."""

from ..bands.table import age_bands
from .metadata import metadata

__all__ = ["age_bands", "metadata"]
