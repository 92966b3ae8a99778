"""Account ids as the policy sees them: every spelling an app could read as the same account."""

from __future__ import annotations

from safe_accounts.pipeline.ids import MAX_ID_LENGTH, account_ids, ids_at, is_plain_id, spellings
from safe_accounts.pipeline.jsondoc import read_json
from safe_accounts.policy.jsonpath import compile_path


def test_a_number_and_its_spellings_are_one_account() -> None:
    assert spellings(5) == ("5",)
    assert spellings(5.0) == ("5",)
    assert spellings(" 005 ") == (" 005 ", "005", "5")
    assert spellings("+5") == ("+5", "5")


def test_nothing_is_no_account() -> None:
    assert spellings(None) == () and spellings(True) == () and spellings("  ") == ()


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
