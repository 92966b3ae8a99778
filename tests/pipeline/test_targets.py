"""Where a route's targets come from: each source reads the view it is given, and a route
that protects its target refuses a request whose targets cannot be read."""

from __future__ import annotations

import pytest

from safe_accounts.db.metadata import ACCOUNT_ID_LENGTH
from safe_accounts.errors import ConfigurationError
from safe_accounts.pipeline.jsondoc import DuplicateKey
from safe_accounts.pipeline.request_view import RequestView
from safe_accounts.pipeline.targets import (
    NOBODY,
    FormSource,
    JsonSource,
    PathSource,
    QuerySource,
    Targets,
    TargetsUnread,
    TargetUnkept,
    reference,
    unread,
)


def view(**parts: object) -> RequestView:
    found = RequestView("POST", "/x", {"id": "p-1"}, [("to", "q-1"), ("to", "q-2")], "me")
    for name, value in parts.items():
        setattr(found, name, value)
    return found


def test_path_and_query_sources_read_every_value() -> None:
    assert PathSource("id").values(view()) == ["p-1"]
    assert QuerySource("to").values(view()) == ["q-1", "q-2"]


def test_a_json_source_reads_every_reading_and_the_same_field_of_a_form() -> None:
    source = JsonSource("to")
    assert source.values(view(json={"to": "ann"})) == ["ann"]
    assert source.values(view(json={"to": ["ann", "bo"]})) == ["ann", "bo"]
    assert source.values(view(json={"to": DuplicateKey(["ann", "bo"])})) == ["ann", "bo"]
    # Another charset gave another document; the app may also fall back to a form.
    assert source.values(view(json={"to": "ann"}, json_also=({"to": "bo"},), form=[("to", "cy")])) == [
        "ann", "bo", "cy",
    ]


def test_a_form_source_reads_both_spellings_of_a_list_field_and_the_json_key() -> None:
    source = FormSource("participants[]")
    assert source.values(view(form=[("participants", "ann"), ("participants[]", "bo")])) == ["ann", "bo"]
    assert source.values(view(json={"participants": ["cy"]})) == ["cy"]


def test_targets_are_every_spelling_of_every_id_but_the_actor() -> None:
    targets = Targets([JsonSource("to")], required=True)
    assert targets.extract_now(view(json={"to": ["me", "ann", 36, " 036 "]})) == ["ann", "36", " 036 ", "036"]


async def test_targets_that_cannot_be_read_refuse_the_request_where_they_are_required() -> None:
    for unreadable in ({}, {"to": True}, {"to": {"no": "id"}}, {"to": None}):
        with pytest.raises(TargetsUnread):
            Targets([JsonSource("to")], required=True).extract_now(view(json=unreadable))
        with pytest.raises(TargetsUnread):
            await Targets([JsonSource("to")], required=True).extract(view(json=unreadable))
    # Not required (a block, a report): nothing named, nothing refused.
    assert Targets([JsonSource("to")], required=False).extract_now(view(json={})) == []


def test_unread_tells_a_shape_no_id_reads_from_nobody_named() -> None:
    assert unread([]) and unread([None, ""]) and unread([True]) and unread([{"name": "x"}])
    assert not unread(["ann"]) and not unread([7]) and not unread([{"id": 7}]) and not unread([NOBODY])
    assert unread(["ann", True])  # one unreadable value is enough: it may be the one the app reads


def test_a_reference_reads_what_a_target_source_reads() -> None:
    # A contact response's answer, a report's text: every JSON reading of the body, and the
    # form field of the same name an app with a form fallback reads.
    answer = reference("json.answer")
    assert answer(view(json={"answer": "accept"}, json_also=({"answer": "reject"},))) == ["accept", "reject"]
    assert answer(view(json={"answer": "accept"}, form=[("answer", "reject")])) == ["accept", "reject"]
    assert reference("form.answer")(view(form=[("answer", "no")], json={"answer": "yes"})) == ["no", "yes"]
    assert reference("path.id")(view()) == ["p-1"] and reference("query.to")(view()) == ["q-1", "q-2"]
    assert reference("actor")(view()) == ["me"]
    with pytest.raises(ConfigurationError, match="must be `actor`"):
        reference("header.x")


def test_a_target_longer_than_our_tables_keep_is_unreadable_on_every_route() -> None:
    # Not only where targets are required: a block or a report records its target too.
    for required in (True, False):
        targets = Targets([JsonSource("to")], required=required)
        at_the_limit = "k" * ACCOUNT_ID_LENGTH
        assert targets.extract_now(view(json={"to": at_the_limit})) == [at_the_limit]
        for over in ("k" * (ACCOUNT_ID_LENGTH + 1), " 7" + "0" * ACCOUNT_ID_LENGTH, "x" * 100_000):
            with pytest.raises(TargetUnkept):
                targets.extract_now(view(json={"to": over}))
            with pytest.raises(TargetUnkept):
                targets.extract_now(view(json={"to": ["ann", over]}))


async def test_a_target_a_lookup_names_longer_than_our_tables_keep_is_unreadable_too() -> None:
    targets = Targets([JsonSource("to")])
    with pytest.raises(TargetUnkept):
        await targets.extract(view(json={"to": "k" * (ACCOUNT_ID_LENGTH + 1)}))
    assert issubclass(TargetUnkept, TargetsUnread)  # answered as an unreadable target
