"""Facts about the targets: which spellings of an id are readings of an account."""

from __future__ import annotations

from safe_accounts import AgeBand, Assurance
from safe_accounts.bands.age import BandRecord, unknown
from safe_accounts.decide.facts import readings_of_accounts


def adult(account: str) -> BandRecord:
    return BandRecord(account, AgeBand.ADULT, Assurance.VERIFIED, "host")


def test_a_spelling_that_names_no_account_beside_one_that_does_is_not_another_account() -> None:
    assert readings_of_accounts(["010", "10"], [unknown("010"), adult("10")]) == ["10"]
    assert readings_of_accounts([" 10", "10"], [unknown(" 10"), adult("10")]) == ["10"]


def test_when_no_spelling_names_an_account_every_spelling_stays_protected() -> None:
    assert readings_of_accounts(["010", "10"], [unknown("010"), unknown("10")]) == ["010", "10"]


def test_spellings_of_other_numbers_are_not_dropped() -> None:
    # `010` reads as 10 and `7` is another account: 7 with no record stays (unknown age).
    assert readings_of_accounts(["10", "7"], [adult("10"), unknown("7")]) == ["10", "7"]


def test_two_existing_accounts_that_read_alike_are_both_kept() -> None:
    # A string-id app may hold `010` and `10` as two accounts: both are checked.
    assert readings_of_accounts(["010", "10"], [adult("010"), adult("10")]) == ["010", "10"]
