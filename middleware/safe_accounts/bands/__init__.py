"""Age bands: what they are, where they are stored, and the cache in front of them."""

from .age import AgeBand, Assurance, BandRecord, band_on

__all__ = ["AgeBand", "Assurance", "BandRecord", "band_on"]
