"""Age bands, assurance levels, and how a birth date becomes a band on a given day.

A band is computed from the birth date *on the day asked*, so a 17-year-old is an
adult on their 18th birthday with no write anywhere.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from ..errors import InvalidBand


class AgeBand(enum.StrEnum):
    UNDER_13 = "under_13"
    B13_15 = "13_15"
    B16_17 = "16_17"
    ADULT = "adult"
    UNKNOWN = "unknown"  # no record: policies decide, and the protective default is "a minor"

    @property
    def is_minor(self) -> bool:
        """A known band below adult. `unknown` is not counted here: policies decide."""
        return self in _MINORS

    @classmethod
    def parse(cls, value: str) -> AgeBand:
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(b.value for b in cls)
            raise InvalidBand(f"unknown age band {value!r} (expected one of {names})") from None


_MINORS = MINOR_BANDS = frozenset({AgeBand.UNDER_13, AgeBand.B13_15, AgeBand.B16_17})


def expand_bands(names: Iterable[str], *, unknown_is_minor: bool) -> frozenset[AgeBand]:
    """Band names as a policy writes them (with `minor`) to the set of bands they mean."""
    bands: set[AgeBand] = set()
    for name in names:
        if name == "minor":
            bands |= MINOR_BANDS
            if unknown_is_minor:
                bands.add(AgeBand.UNKNOWN)
        else:
            bands.add(AgeBand(name))
    return frozenset(bands)


class Assurance(enum.StrEnum):
    """How the band is known. Ofcom: self-declaration is not highly effective age assurance."""

    SELF_DECLARED = "self_declared"
    ESTIMATED = "estimated"
    VERIFIED = "verified"

    @property
    def rank(self) -> int:
        return _ASSURANCE_RANK[self]

    @classmethod
    def parse(cls, value: str) -> Assurance:
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(a.value for a in cls)
            raise InvalidBand(f"unknown assurance {value!r} (expected one of {names})") from None


_ASSURANCE_RANK = {Assurance.SELF_DECLARED: 0, Assurance.ESTIMATED: 1, Assurance.VERIFIED: 2}

# The birthdays on which the band changes, youngest first.
_THRESHOLDS = ((13, AgeBand.B13_15), (16, AgeBand.B16_17), (18, AgeBand.ADULT))


def anniversary(born: date, years: int) -> date:
    """The date someone born on `born` turns `years` old.

    A 29 February birthday falls on 1 March in common years (the UK convention).
    """
    try:
        return born.replace(year=born.year + years)
    except ValueError:
        return date(born.year + years, 3, 1)


def band_on(born: date, today: date) -> AgeBand:
    """The band of someone born on `born`, on `today`."""
    if born > today:
        raise InvalidBand(f"birth date {born.isoformat()} is in the future")
    band = AgeBand.UNDER_13
    for years, next_band in _THRESHOLDS:
        if today < anniversary(born, years):
            return band
        band = next_band
    return band


def next_change(born: date, today: date) -> date | None:
    """The next birthday on which the band changes, or None once an adult."""
    for years, _ in _THRESHOLDS:
        when = anniversary(born, years)
        if today < when:
            return when
    return None


@dataclass(frozen=True, slots=True)
class BandRecord:
    """What is known about one account's age, as stored.

    `birth_date` is kept only while the account is a minor (the band must move on on
    their birthdays); an adult's record keeps the band alone. `band` is the band as
    recorded, and is what counts when there is no birth date. `exists` is False only for
    `unknown(...)`, the stand-in for an id the store has no record of: no account at all,
    where an `unknown` band with a record is an account whose age nobody knows.
    """

    account_id: str
    band: AgeBand
    assurance: Assurance
    source: str
    birth_date: date | None = None
    changed_at: float | None = None
    exists: bool = True

    def band_on(self, today: date) -> AgeBand:
        if self.birth_date is None:
            return self.band
        return band_on(self.birth_date, today)

    def valid_until(self, today: date) -> date | None:
        """The first day on which `band_on` may answer differently (None: never by itself)."""
        return None if self.birth_date is None else next_change(self.birth_date, today)


def unknown(account_id: str) -> BandRecord:
    """What an id with no record reads as: band `unknown`, and no account."""
    return BandRecord(account_id, AgeBand.UNKNOWN, Assurance.SELF_DECLARED, "none", exists=False)
