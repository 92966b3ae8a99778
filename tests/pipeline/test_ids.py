"""Account ids as the policy sees them: every spelling an app could read as the same account."""

from __future__ import annotations

import contextlib

from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from safe_accounts.decide.ids import MAX_ID_LENGTH, canonical, is_plain_id
from safe_accounts.pipeline.ids import account_ids, ids_at, spellings
from safe_accounts.pipeline.jsondoc import read_json
from safe_accounts.policy.jsonpath import compile_path


def test_a_number_and_its_spellings_are_one_account() -> None:
    assert spellings(5) == ("5",)
    assert spellings(5.0) == ("5",)
    assert spellings(" 005 ") == (" 005 ", "005", "5")
    assert spellings("+5") == ("+5", "5")


def test_nothing_is_no_account() -> None:
    assert spellings(None) == () and spellings("  ") == ()


def test_what_typed_handlers_read_as_a_number_yields_that_number() -> None:
    # pydantic's lax `int` (FastAPI): a fraction of zeros, `_`, spaces, a JSON `true`.
    assert spellings("36.0")[-1] == "36" and spellings("+036.000")[-1] == "36"
    assert spellings("3_6") == ("3_6", "36") and spellings(True) == ("1",) and spellings(False) == ("0",)
    assert spellings("0-36") == ("0-36", "-36")  # pydantic drops leading zeros before a sign
    # Python's `int()`: any script's digits.
    assert spellings("３６") == ("３６", "36") and spellings("٣٦") == ("٣٦", "36")
    # `int(float(...))`: an exponent, and what a float rounds to.
    assert spellings("3.6e1") == ("3.6e1", "36")
    assert spellings("36.00000000000000001") == ("36.00000000000000001", "36")
    assert spellings("9007199254740993.0") == ("9007199254740993.0", "9007199254740993", "9007199254740992")
    # No number: nothing more than the id itself.
    assert spellings("36.5") == ("36.5",) and spellings("3f2a") == ("3f2a",) and spellings("1e999") == ("1e999",)


def test_every_spelling_of_an_account_has_one_canonical_form() -> None:
    for value in ("036", " 36", "+36", "36.0", "3_6", "３６", "3.6e1", 36, 36.0):
        assert {canonical(s) for s in spellings(value)} == {"36"}, value
    assert canonical("user-42") == "user-42" and canonical(" user-42 ") == "user-42"


def test_a_long_id_is_still_checked_and_only_its_number_reading_is_skipped() -> None:
    long_word = "x" * (MAX_ID_LENGTH + 1)
    assert spellings(" " + long_word) == (" " + long_word, long_word)
    assert account_ids([long_word, " " + long_word]) == [long_word, " " + long_word]
    digits = "1" * 5000  # int() would refuse it
    assert spellings(digits) == (digits,)


def test_plain_ids_are_their_own_only_spelling() -> None:
    assert is_plain_id("user-42") and is_plain_id("_x")
    assert not any(is_plain_id(v) for v in ("", "42", " user", "user ", "+1", 42, None))
    assert account_ids(["user-42", "user-42", 42, "042"]) == ["user-42", "42", "042"]


def test_an_id_written_twice_in_an_object_counts_both_values() -> None:
    document = read_json('{"to": {"id": "a", "id": "b"}}', None)
    assert ids_at(document, compile_path("to")) == ["a", "b"]


# Characters typed ids are made of, and a few that are not: what hypothesis writes ids with.
_ID_CHARACTERS = st.sampled_from([*"0123456789+-_.eE x", "３", "٣", "\u3000", "\xa0", "²"])


@settings(max_examples=2000, deadline=None)
@given(text=st.text(_ID_CHARACTERS, max_size=16))
@example(text="1e300").via("a number longer than any id")
@example(text="0-36").via("pydantic drops leading zeros before a sign")
def test_whatever_int_float_or_pydantic_reads_a_string_as_is_one_of_its_spellings(text: str) -> None:
    """The readers of the typed handlers this module claims: Python's `int()`, `int(float())`
    and pydantic's lax `int` (FastAPI's `int` parameters and fields)."""
    found = spellings(text)
    readings: list[int] = []
    with contextlib.suppress(ValueError):
        readings.append(int(text))
    with contextlib.suppress(ValueError, OverflowError):
        number = float(text)
        if number.is_integer():
            readings.append(int(number))
    with contextlib.suppress(ValidationError):
        readings.append(TypeAdapter(int).validate_python(text))
    for reading in readings:
        if len(str(reading)) <= MAX_ID_LENGTH:  # no account id is longer
            assert str(reading) in found, (text, reading, found)
    # Every spelling of one reading shares one canonical form (a float that cannot hold the
    # digits is a second, other number).
    assert len({canonical(s) for s in found}) <= 2
