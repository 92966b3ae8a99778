"""A band change becomes a record: checked, and with no more personal data than needed."""

from __future__ import annotations

from datetime import date

import pytest

from safe_accounts.bands.age import AgeBand, Assurance
from safe_accounts.bands.recording import account_id_checked, new_record, parse_birth_date
from safe_accounts.clock import FrozenClock
from safe_accounts.errors import InvalidBand

CLOCK = FrozenClock(1_800_000_000.0)  # 2027-01-15
TODAY = CLOCK.today()


def record(**given):  # type: ignore[no-untyped-def]
    given.setdefault("band", None)
    given.setdefault("birth_date", None)
    return new_record("acct-1", assurance=Assurance.VERIFIED, source="test", clock=CLOCK, **given)


def test_a_minors_birth_date_is_kept_so_the_band_can_move_on() -> None:
    made = record(birth_date=date(2013, 6, 1))
    assert made.band is AgeBand.B13_15
    assert made.birth_date == date(2013, 6, 1)
    assert made.assurance is Assurance.VERIFIED
    assert made.changed_at == CLOCK.now()


def test_an_adults_birth_date_is_not_kept() -> None:
    made = record(birth_date=date(1990, 6, 1))
    assert made.band is AgeBand.ADULT
    assert made.birth_date is None


def test_someone_turning_18_today_is_stored_as_an_adult_without_a_date() -> None:
    made = record(birth_date=date(TODAY.year - 18, TODAY.month, TODAY.day))
    assert (made.band, made.birth_date) == (AgeBand.ADULT, None)


def test_a_band_without_a_date_is_kept_as_given() -> None:
    made = record(band=AgeBand.B16_17)
    assert (made.band, made.birth_date) == (AgeBand.B16_17, None)


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ({"birth_date": date(2030, 1, 1)}, "in the future"),
        ({"birth_date": date(1899, 12, 31)}, "before 1900"),
        ({}, "neither"),
        ({"band": AgeBand.ADULT, "birth_date": date(2010, 1, 1)}, "both"),
        ({"band": AgeBand.UNKNOWN}, "absence of a record"),
    ],
)
def test_changes_that_cannot_be_a_band_are_refused(given: dict, reason: str) -> None:
    with pytest.raises(InvalidBand, match=reason):
        record(**given)


@pytest.mark.parametrize("account_id", ["", " padded", "x" * 256, "line\nbreak", "tab\there"])
def test_account_ids_that_cannot_be_stored_are_refused(account_id: str) -> None:
    with pytest.raises(InvalidBand, match="account id"):
        account_id_checked(account_id)


def test_any_printable_id_of_up_to_255_characters_is_accepted() -> None:
    for account_id in ("42", "6f1c-uuid", "user:with spaces", "x" * 255, "ünïcödé"):
        assert account_id_checked(account_id) == account_id


@pytest.mark.parametrize("text", ["12/01/2010", "2010-1-1", "20100101", "2010-02-30", "soon"])
def test_birth_dates_must_be_real_iso_dates(text: str) -> None:
    with pytest.raises(InvalidBand, match="birth date"):
        parse_birth_date(text)


def test_an_iso_birth_date_is_parsed() -> None:
    assert parse_birth_date("2012-02-29") == date(2012, 2, 29)
