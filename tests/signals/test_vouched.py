"""Vouched accounts in the signals (`where: {vouched: ...}`), on every store, with the
shipped baseline's signals: a vouched account's events never count towards a signal that
asks for accounts not vouched, and still count towards the others."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

from safe_accounts.bands.age import AgeBand
from safe_accounts.policy.loader import load_policy
from safe_accounts.policy.model import EventKind
from safe_accounts.signals import Event, SignalPlan
from safe_accounts.signals.store import SignalStore

from .conftest import MakeStore
from .policies import event

BASELINE = load_policy(Path(__file__).resolve().parents[2] / "policies" / "baseline.yaml").policy
PLAN = SignalPlan.compile(BASELINE.signals)
REJECTIONS = "scattered-rejections-by-minors"
NEW_TIES = "requests-through-new-ties"
EARLY = "early-rejections-from-minors"
AT = 1_800_000_000.0


async def crossed(store: SignalStore, events: list[Event]) -> list[str]:
    observations = [obs for e in events for obs in PLAN.observations(e)]
    return [c.signal for c in await store.record(uuid.uuid4().hex, observations)]


def rejection(i: int, *, vouched: bool, subject: str = "coach") -> Event:
    found = event(EventKind.CONTACT_REJECTED, AT + i, subject=subject, other=f"child-{i}", mutual=None, ties=0)
    return replace(found, vouched=vouched)


def request(i: int, *, vouched: bool) -> Event:
    found = event(
        EventKind.CONTACT_REQUEST, AT + i, subject="coach", other=f"child-{i}", mutual=1, ties=0,
        subject_band=AgeBand.ADULT,
    )
    return replace(found, vouched=vouched)


async def test_a_vouched_accounts_rejections_from_outside_its_circle_never_cross(make_store: MakeStore) -> None:
    store = make_store()
    found = await crossed(store, [rejection(i, vouched=True) for i in range(6)])
    assert REJECTIONS not in found


async def test_the_second_rejection_of_an_account_not_vouched_still_crosses(make_store: MakeStore) -> None:
    store = make_store()
    assert REJECTIONS not in await crossed(store, [rejection(0, vouched=False, subject="stranger")])
    assert REJECTIONS in await crossed(store, [rejection(1, vouched=False, subject="stranger")])


async def test_a_vouched_accounts_requests_through_new_ties_never_cross(make_store: MakeStore) -> None:
    store = make_store()
    assert NEW_TIES not in await crossed(store, [request(i, vouched=True) for i in range(5)])
    other = make_store()
    assert NEW_TIES in await crossed(other, [request(i, vouched=False) for i in range(2)])


async def test_signals_that_do_not_ask_still_count_a_vouched_account(make_store: MakeStore) -> None:
    # The early-rejection rate counts everyone: vouching spares an account the network
    # context's signals, not children's answers as a whole.
    store = make_store()
    events = [request(i, vouched=True) for i in range(3)] + [rejection(i, vouched=True) for i in range(3)]
    assert EARLY in await crossed(store, events)
