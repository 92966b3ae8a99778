"""Which recorded events carry the pair's mutual connections (`records.mutual_wanted`): a
contact request to a minor always, and any event an enabled signal counts by them."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from safe_accounts.bands.age import AgeBand
from safe_accounts.pipeline.records import mutual_wanted
from safe_accounts.policy.model import EventKind
from safe_accounts.relations.mutual_wanted import MutualWanted
from safe_accounts.runtime import Runtime

REJECTIONS_BY_MINORS = MutualWanted(((EventKind.CONTACT_REJECTED, frozenset({AgeBand.B13_15, AgeBand.UNKNOWN})),))


def _runtime(asked: MutualWanted | None, *, unknown_is_minor: bool = True) -> Runtime:
    policy = SimpleNamespace(unknown_is_minor=unknown_is_minor)
    return cast(Runtime, SimpleNamespace(mutual_wanted=asked, policy=policy))


def test_a_contact_request_carries_it_to_a_minor_whatever_the_signals() -> None:
    carries = mutual_wanted(_runtime(None), EventKind.CONTACT_REQUEST, with_mutual=True)
    assert carries is not None
    assert carries(AgeBand.UNDER_13) and carries(AgeBand.UNKNOWN)
    assert not carries(AgeBand.ADULT)
    unknown_adult = mutual_wanted(_runtime(None, unknown_is_minor=False), EventKind.CONTACT_REQUEST, with_mutual=True)
    assert unknown_adult is not None and not unknown_adult(AgeBand.UNKNOWN)


def test_an_answer_carries_it_when_a_signal_counts_it_by_it() -> None:
    carries = mutual_wanted(_runtime(REJECTIONS_BY_MINORS), EventKind.CONTACT_REJECTED)
    assert carries is not None
    assert carries(AgeBand.B13_15)
    assert not carries(AgeBand.ADULT)  # no signal could count an adult's rejection by it


def test_an_event_no_signal_counts_by_it_is_not_looked_up() -> None:
    assert mutual_wanted(_runtime(None), EventKind.CONTACT_REJECTED) is None
    assert mutual_wanted(_runtime(REJECTIONS_BY_MINORS), EventKind.BLOCKED) is None
    assert mutual_wanted(_runtime(REJECTIONS_BY_MINORS), EventKind.DIRECT_MESSAGE) is None
