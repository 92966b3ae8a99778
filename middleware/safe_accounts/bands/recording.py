"""How a band change becomes a record: the checks, and the data we decline to keep.

Data minimisation (ICO Children's code): a birth date is kept only while it is needed
to move a minor's band on by itself. When a birth date already shows an adult at write
time, the record keeps `adult` and no date at all.
"""

from __future__ import annotations

import re
from datetime import date

from ..clock import Clock
from ..db.metadata import ACCOUNT_ID_LENGTH
from ..errors import InvalidBand
from .age import AgeBand, Assurance, BandRecord, band_on

# Anyone born earlier is a typing mistake, not a user.
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
MAX_ACCOUNT_ID_LENGTH = ACCOUNT_ID_LENGTH  # the width of every account-id column of ours
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def account_id_checked(account_id: str) -> str:
    """The account id as given, or InvalidBand saying why it cannot be stored."""
    if not account_id or account_id.strip() != account_id:
        raise InvalidBand(f"account id {account_id!r} is empty or has surrounding spaces")
    if len(account_id) > MAX_ACCOUNT_ID_LENGTH:
        raise InvalidBand(f"account id is longer than {MAX_ACCOUNT_ID_LENGTH} characters")
    if _CONTROL.search(account_id):
        raise InvalidBand(f"account id {account_id!r} contains control characters")
    return account_id


def parse_birth_date(text: str) -> date:
    """`YYYY-MM-DD` only: an ambiguous date must not become a wrong band."""
    if not _ISO_DATE.fullmatch(text):
        raise InvalidBand(f"birth date {text!r} is not a date in the form YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidBand(f"birth date {text!r} is not a real calendar date") from None


def new_record(
    account_id: str,
    *,
    band: AgeBand | None,
    birth_date: date | None,
    assurance: Assurance,
    source: str,
    clock: Clock,
) -> BandRecord:
    """The record to store for a band change given either as a band or as a birth date."""
    account_id_checked(account_id)
    if band is not None and birth_date is not None:
        raise InvalidBand("both a band and a birth date given: give exactly one")
    if band is None and birth_date is None:
        raise InvalidBand("neither a band nor a birth date given: give exactly one")
    today = clock.today()
    if birth_date is not None:
        if birth_date < EARLIEST_BIRTH_DATE:
            raise InvalidBand(f"birth date {birth_date.isoformat()} is before 1900")
        band = band_on(birth_date, today)  # InvalidBand for a date in the future
        if not band.is_minor:
            birth_date = None  # an adult stays an adult: the date is no longer needed
    elif band is AgeBand.UNKNOWN:
        raise InvalidBand("`unknown` is the absence of a record and cannot be set")
    assert band is not None
    return BandRecord(
        account_id,
        AgeBand(band),
        Assurance(assurance),
        source,
        birth_date=birth_date,
        changed_at=clock.now(),
    )
