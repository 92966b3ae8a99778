"""Age misrepresentation: how much of an account's own circle is adult (the host's
`relationships.adult_connections` query).

A teenager's connections are mostly other children - classmates, friends, siblings - with
a few parents and relatives among them. An adult who signs up with a teen's birth date
brings their own life along: the accounts they connect with first are adults. A signal may
count only the events of accounts whose circle is mostly adult
(`where: {subject_adult_connections: {min: 60}}`), beside the teen's own band.

Read only for the events a signal filters by it, and only when that signal's other
conditions on the bands can hold; never cached: each accepted request changes the share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from ..bands.age import AgeBand, expand_bands
from ..errors import StorageError
from ..policy import model
from .lookup import Lookup, compile_lookup

ADULT_AGE = 18
LOOKUP = "relationships.adult_connections"


@dataclass(frozen=True, slots=True)
class _Asked:
    """One signal that filters by the share: the events it may count."""

    kind: model.EventKind
    subject_bands: frozenset[AgeBand] | None  # None: any subject
    other_bands: frozenset[AgeBand] | None  # None: any other

    def covers(self, kind: model.EventKind, subject_band: AgeBand | None, other_band: AgeBand) -> bool:
        if kind is not self.kind:
            return False
        if self.subject_bands is not None and subject_band not in self.subject_bands:
            return False
        return self.other_bands is None or other_band in self.other_bands


class AdultConnections:
    __slots__ = ("_lookup", "_asked")

    def __init__(self, spec: model.Lookup, engine: AsyncEngine | None, asked: tuple[_Asked, ...]) -> None:
        self._lookup: Lookup = compile_lookup(LOOKUP, spec, engine)
        self._asked = asked

    @property
    def kinds(self) -> frozenset[model.EventKind]:
        return frozenset(a.kind for a in self._asked)

    def wanted_for(self, kind: model.EventKind, subject_band: AgeBand | None, other_band: AgeBand) -> bool:
        """Whether some signal could count this event by the share: only those pay for the query."""
        return any(a.covers(kind, subject_band, other_band) for a in self._asked)

    async def share(self, account: str, now: float) -> int | None:
        """The percentage of `account`'s connections who are adults at `now` (one query), or
        None when the host says it has too few to tell (no row, or NULL)."""
        today = datetime.fromtimestamp(now, UTC).date()  # the bands' day: the UTC date
        value = await self._lookup.scalar(account=account, adult_born_by=adult_born_by(today).isoformat(), now=now)
        if value is None:
            return None
        try:
            share = round(float(value))
        except (TypeError, ValueError):
            raise StorageError(f"lookup {LOOKUP!r} answered {value!r}, not a percentage") from None
        if not 0 <= share <= 100:
            raise StorageError(f"lookup {LOOKUP!r} answered {value!r}, not a percentage from 0 to 100")
        return share

    @classmethod
    def wanted(
        cls, policy: model.PolicyFile, engine: AsyncEngine | None, *, unknown_is_minor: bool
    ) -> AdultConnections | None:
        """The lookup when an enabled signal of the policy filters by it and the policy declares it."""
        spec = policy.relationships.adult_connections
        asked = tuple(
            _Asked(
                signal.event,
                None
                if where.subject_band is None
                else expand_bands(where.subject_band, unknown_is_minor=unknown_is_minor),
                None if where.other_band is None else expand_bands(where.other_band, unknown_is_minor=unknown_is_minor),
            )
            for signal in policy.signals.counts
            if signal.enabled and (where := signal.where).subject_adult_connections is not None
        )
        return cls(spec, engine, asked) if spec is not None and asked else None


def adult_born_by(today: date) -> date:
    """The latest birth date of someone who is an adult on `today`, as the bands count
    birthdays (`bands.age.band_on`: 29 February's falls on 1 March in common years)."""
    try:
        latest = today.replace(year=today.year - ADULT_AGE)
    except ValueError:  # today is 29 February, that year had none: born on the 28th at the latest
        latest = date(today.year - ADULT_AGE, 2, 28)
    return latest
