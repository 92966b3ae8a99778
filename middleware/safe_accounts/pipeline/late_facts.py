"""The events of an acknowledged request whose facts could not be read on its path.

What `records.py` hands to the runtime's `PendingFacts` instead of submitting an event with
facts it does not have: what is known (the accounts, the action, the time, the decision),
which facts are missing, and how to read them, off the request path. Each signal reads the
other account's band (`where: other_band`) and, on the events that carry them (a contact
request to a minor; any event a signal counts by them: `records.mutual_wanted`), the pair's
mutual connections (`where: mutual_connections`): those are what `resolve` reads, the way
the request path would have (the band store, the relationship lookup), with the same rules
about which accounts count (`records.counts_as_account`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from ..bands.age import AgeBand
from ..decide.rules import Party
from ..policy.model import EventKind
from ..runtime import Runtime
from ..runtime.pending_facts import PendingEvent
from ..signals.events import Event
from .targets import TargetsUnread


def pair_event(
    rt: Runtime,
    kind: EventKind,
    *,
    subject: str,
    other: Party,
    at: float,
    decision_id: str | None,
    other_read: bool,
    account: str | None = None,
    mutual_of: tuple[str, str] | None = None,
    mutual_wanted: Callable[[AgeBand], bool] | None = None,
    ties: int | None = None,
    subject_band: AgeBand | None = None,
    vouched: bool = False,
    adult_connections: int | None = None,
) -> None:
    """Queue the event about `subject` reaching `other` with its missing facts: `other`'s
    band unless `other_read`; whether `account` (the target) is an account at all (None: it
    need not be); the mutual connections of `mutual_of` when `mutual_wanted` says the event
    carries them for `other`'s band. The facts the request path did read (`ties`,
    `subject_band`, `vouched`, `adult_connections`) go into the event as they are."""
    assert other.id is not None
    other_id = other.id
    mutual_missing = mutual_of is not None and mutual_wanted is not None
    missing = tuple(
        fact for fact, is_missing in (("bands", not other_read or account is not None), ("mutual", mutual_missing))
        if is_missing
    )

    def event(band: AgeBand, mutual: int | None) -> Event:
        return Event(
            kind, subject, other_id, band, mutual, at, decision_id, ties=ties, subject_band=subject_band,
            vouched=vouched, adult_connections=adult_connections,
        )

    async def resolve() -> Sequence[Event]:
        wanted = [a for a in (None if other_read else other_id, account) if a is not None]
        found = await rt.bands.get_many(wanted) if wanted else {}
        if account is not None and not found[account].exists:
            return []  # no account: not counted, as on the request path
        band = other.band if other_read else found[other_id].band
        mutual = None
        if mutual_of is not None and mutual_wanted is not None and mutual_wanted(band):
            mutual = await rt.relationships.mutual(*mutual_of)
        return [event(band, mutual)]

    known = (event(other.band, None),)
    _add(rt, PendingEvent(kind.value, at, missing, resolve, known))


def answer_events(
    rt: Runtime,
    kind: EventKind,
    *,
    responder: Party,
    at: float,
    requesters: Callable[[], Awaitable[Sequence[str]]],
    mutual_wanted: Callable[[AgeBand], bool] | None = None,
) -> None:
    """Queue the events of an answer to contact requests whose requesters could not be read
    (the lookup that names them failed): `requesters` reads them again, then the responder's
    band is read (and each pair's mutual connections, when `mutual_wanted` says the events
    carry them for that band), and every worker forgets each pair, as after any answer."""
    assert responder.id is not None
    responder_id = responder.id

    async def resolve() -> Sequence[Event]:
        try:
            named = await requesters()
        except TargetsUnread:  # read again, they name an id we cannot keep: no one to count
            return []
        ids = [a for a in dict.fromkeys(named) if a != responder_id]
        if not ids:
            return []
        band = (await rt.bands.get_many([responder_id]))[responder_id].band
        await rt.relationships.forget_everywhere(ids)
        carries = mutual_wanted is not None and mutual_wanted(band)
        return [
            Event(kind, a, responder_id, band, await rt.relationships.mutual(a, responder_id) if carries else None, at)
            for a in ids
        ]

    # Nothing is known to record until the requesters are read.
    missing = ("requesters", "bands", "mutual") if mutual_wanted is not None else ("requesters", "bands")
    _add(rt, PendingEvent(kind.value, at, missing, resolve))


def _add(rt: Runtime, item: PendingEvent) -> None:
    if rt.pending is not None:
        rt.pending.add(item)
    elif rt.signals is not None:  # no resolver attached: the events as far as known
        for event in item.known:
            rt.signals.submit(event)
