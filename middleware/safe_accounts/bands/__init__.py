"""Age bands: what they are, where they are stored, and the cache in front of them."""

from .age import AgeBand, Assurance, BandRecord, band_on
from .directory import BandDirectory
from .store import BandStore, HostBandStore, OwnBandStore, band_store_for

__all__ = [
    "AgeBand",
    "Assurance",
    "BandDirectory",
    "BandRecord",
    "BandStore",
    "HostBandStore",
    "OwnBandStore",
    "band_on",
    "band_store_for",
]
