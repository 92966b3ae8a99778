"""JSON paths and the JSON reader: every value a duplicated key carries counts."""

from __future__ import annotations

import pytest

from safe_accounts.pipeline.jsondoc import DuplicateKey, quoted_keys, read_json, walk
from safe_accounts.policy.jsonpath import compile_path


def test_a_path_reaches_every_item_of_a_list() -> None:
    document = {"participants": [{"id": 1}, {"id": 2}]}
    assert list(walk(document, compile_path("participants[*].id"))) == [1, 2]


def test_the_keys_a_path_reads_are_quoted_as_json_writes_them() -> None:
    assert quoted_keys([compile_path("to"), compile_path("participants[*].id")]) == ('"id"', '"participants"', '"to"')


@pytest.mark.parametrize(
    "text",
    [
        '{"to": "a", "to": "b"}',  # written twice: the careful parser keeps both
        '{"to": "a", "\\u0074o": "b"}',  # an escape spells the same key differently
    ],
)
def test_a_key_written_twice_keeps_both_values_whichever_parser_runs(text: str) -> None:
    document = read_json(text, quoted_keys([compile_path("to")]))
    assert isinstance(document["to"], DuplicateKey)
    assert list(walk(document, compile_path("to"))) == ["a", "b"]


def test_a_key_the_policy_does_not_read_may_take_the_fast_path() -> None:
    document = read_json('{"to": "a", "text": "x", "text": "y"}', quoted_keys([compile_path("to")]))
    assert document["to"] == "a"


def test_a_reader_that_may_look_anywhere_always_keeps_duplicates() -> None:
    document = read_json('{"x": 1, "x": 2}', None)
    assert isinstance(document["x"], DuplicateKey)
