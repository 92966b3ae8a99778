"""Which recorded events a count signal reads the pair's mutual connections of
(`where: {mutual_connections: ...}`), beyond the contact requests to minors that always
carry them.

An answer to a contact request, a block, a report or a direct message is recorded after
the app has answered, and carries the pair's mutual count only when an enabled signal
could count it by that count: its kind, and the other account's band within the signal's
`other_band`. Only those events pay for the lookup; without the lookup
(`relationships.mutual_count`) every pair shares 0, as for contact requests.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..bands.age import AgeBand, expand_bands
from ..policy import model


@dataclass(frozen=True, slots=True)
class MutualWanted:
    # Per signal that filters by the count: its event kind and the others' bands (None: any).
    asked: tuple[tuple[model.EventKind, frozenset[AgeBand] | None], ...]

    @property
    def kinds(self) -> frozenset[model.EventKind]:
        return frozenset(kind for kind, _ in self.asked)

    def wanted_for(self, kind: model.EventKind, other_band: AgeBand) -> bool:
        """Whether some signal could count this event by the pair's mutual connections."""
        return any(k is kind and (bands is None or other_band in bands) for k, bands in self.asked)

    @classmethod
    def of(cls, policy: model.PolicyFile, *, unknown_is_minor: bool) -> MutualWanted | None:
        """What the enabled count signals of `policy` ask; None when none filters by the count."""
        asked = tuple(
            (
                signal.event,
                None if where.other_band is None else expand_bands(where.other_band, unknown_is_minor=unknown_is_minor),
            )
            for signal in policy.signals.counts
            if signal.enabled and (where := signal.where).mutual_connections is not None
        )
        return cls(asked) if asked else None
