"""What the middleware tells the signal recorder: one thing that happened between two accounts."""

from __future__ import annotations

from dataclasses import dataclass

from ..bands.age import AgeBand
from ..policy.model import EventKind


@dataclass(frozen=True, slots=True)
class Event:
    """One event about a *subject* (the account reaching out, which is counted) and an
    *other* (the account reached, usually the child). Never message text."""

    kind: EventKind
    subject: str
    other: str
    other_band: AgeBand
    mutual: int | None  # mutual connections between subject and other, when known
    at: float  # seconds since the epoch, from a Clock
    decision_id: str | None = None
    # Refused by an enforced rule: an attempt that never reached `other`, who could not
    # answer it (rates of answers count only what arrived: `where: {refused: false}`).
    refused: bool = False
    # Contact requests to a minor: how many of the child's connections are in the subject's
    # circle (`relationships.community_ties`); None when the policy has no such lookup or
    # it could not be read.
    ties: int | None = None
    # The subject's band, when the event was recorded with it (contact requests, direct
    # messages); None matches no `where: {subject_band: ...}`.
    subject_band: AgeBand | None = None
    # The platform vouches for the subject (`relationships.vouched`, read for contact
    # requests and answers when a signal filters by it); False when not, not read, or
    # unreadable: vouching spares an account from signals, so it is granted only when known.
    vouched: bool = False
    # The percentage of the subject's connections who are adults (`relationships.adult_connections`,
    # read when a signal filters the event by it); None when not read, unreadable, or too
    # few connections to tell: None matches no `where: {subject_adult_connections: ...}`.
    adult_connections: int | None = None
