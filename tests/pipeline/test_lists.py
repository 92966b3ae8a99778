"""A page's ids, read once per item: the quick reading of plain ids and integers gives every
item the ids `ids_at` gives it, so no spelling of an account escapes a filtered list."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from safe_accounts.pipeline.ids import account_ids, ids_at
from safe_accounts.pipeline.lists import _ids_of_items
from safe_accounts.policy.jsonpath import compile_path

ID = compile_path("id")

ids = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["user-7", "7", " 7 ", "007", "+7.0", "true"]),
    st.none(),
)
items = st.one_of(
    st.builds(lambda i: {"id": i, "name": "x"}, ids),
    st.builds(lambda i: {"id": {"id": i}}, ids),
    st.just({"name": "no id"}),
    st.just("not an item"),
)


def as_lists(per_item: list[Any]) -> list[list[str]]:
    return [[v] if type(v) is str else v for v in per_item]


def test_a_page_of_integer_ids_is_read_as_their_digits_with_no_list_per_item() -> None:
    per_item, plain = _ids_of_items([{"id": 36}, {"id": 7}, {"id": 36}], ID)
    assert (per_item, plain) == (["36", "7", "36"], True)


def test_a_json_true_is_account_1_not_an_integer_spelled_true() -> None:
    per_item, plain = _ids_of_items([{"id": 36}, {"id": True}], ID)
    assert per_item == ["36", ["1"]]
    assert not plain


@given(st.lists(items, max_size=12))
@example([{"id": 5}, {"id": 5.0}, {"id": " 5 "}, {"id": False}, {"id": -3}, {"id": 2**63}])
def test_every_item_gets_the_ids_ids_at_reads_in_it(page: list[Any]) -> None:
    per_item, plain = _ids_of_items(page, ID)
    assert [account_ids(v) for v in as_lists(per_item)] == [ids_at(item, ID) for item in page]
    if plain:
        assert all(type(v) is str for v in per_item)
