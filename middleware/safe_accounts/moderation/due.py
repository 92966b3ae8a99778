"""Due times: by when a moderator should have decided on an item, from the policy's
`moderation.due` (the first entry that matches the item applies).

A due time is the item's creation plus the entry's `within`, so it does not depend on when
the item was filed into its case, nor on who looks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..bands.age import AgeBand, expand_bands
from ..policy.model import DEFAULT_DUE, DueTime, PolicyFile
from ..signals.plan import window_seconds
from .model import ItemKind


@dataclass(frozen=True, slots=True)
class _Entry:
    kind: ItemKind
    bands: frozenset[AgeBand] | None
    signals: frozenset[str] | None
    seconds: int


class DueTimes:
    def __init__(self, due: Sequence[DueTime] = DEFAULT_DUE, *, unknown_is_minor: bool = True) -> None:
        self._entries = tuple(
            _Entry(
                ItemKind(entry.item),
                None
                if entry.reporter_band is None
                else expand_bands(entry.reporter_band, unknown_is_minor=unknown_is_minor),
                None if entry.signal is None else frozenset(entry.signal),
                window_seconds(entry.within),
            )
            for entry in due
        )

    @classmethod
    def of(cls, policy: PolicyFile | None) -> DueTimes:
        """The policy's due times; the defaults without a policy."""
        if policy is None:
            return cls()
        return cls(policy.moderation.due, unknown_is_minor=policy.defaults.unknown_age == "minor")

    def alert(self, signal: str, created_at: float) -> float | None:
        for entry in self._entries:
            if entry.kind is ItemKind.ALERT and (entry.signals is None or signal in entry.signals):
                return created_at + entry.seconds
        return None

    def report(self, reporter_band: str, created_at: float) -> float | None:
        try:
            band = AgeBand(reporter_band)
        except ValueError:
            band = AgeBand.UNKNOWN
        for entry in self._entries:
            if entry.kind is ItemKind.REPORT and (entry.bands is None or band in entry.bands):
                return created_at + entry.seconds
        return None
