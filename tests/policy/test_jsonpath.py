"""JSON paths and the JSON reader: every value a duplicated key carries counts."""

from __future__ import annotations

import re

import pytest

from safe_accounts.errors import ConfigurationError
from safe_accounts.pipeline.jsondoc import DuplicateKey, TooDeep, quoted_keys, read_json, walk
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


def test_a_wildcard_over_an_object_reaches_its_keys_and_its_values() -> None:
    document = {"members": {"kid": True, "adult": {"id": "x"}}}
    assert list(walk(document, compile_path("members[*]"))) == ["kid", True, "adult", {"id": "x"}]
    assert list(walk(document, compile_path("members.*"))) == ["kid", True, "adult", {"id": "x"}]
    # Past the wildcard, only values lead anywhere: a key is a string.
    assert list(walk(document, compile_path("members[*].id"))) == ["x"]


def test_a_keys_step_reaches_only_an_objects_keys() -> None:
    document = {"members": {"kid": "admin", "adult": "member"}}
    assert list(walk(document, compile_path("members[*]~"))) == ["kid", "adult"]
    assert list(walk(document, compile_path("members.*~"))) == ["kid", "adult"]
    assert list(walk({"members": ["kid"]}, compile_path("members[*]~"))) == []


@pytest.mark.parametrize(
    ("path", "reason"),
    [("members[*]~.id", "must end the path"), ("members[0]~", "follows `[*]` only"), ("members[x", "cannot read")],
)
def test_a_path_the_syntax_does_not_allow_is_refused(path: str, reason: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(reason)):
        compile_path(path)


@pytest.mark.parametrize("keys", [None, ('"to"',)])
def test_json_too_deep_for_the_parser_is_unreadable_not_a_crash(keys: tuple[str, ...] | None) -> None:
    with pytest.raises(TooDeep):
        read_json('{"to": "kid", "x": ' + "[" * 5000 + "]" * 5000 + "}", keys)
    assert issubclass(TooDeep, ValueError)  # every reader that refuses bad JSON refuses it
