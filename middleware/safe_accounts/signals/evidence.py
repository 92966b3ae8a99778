"""Evidence: the last few events behind a signal, as kept in the store and put on an alert.

Kinds, bands, mutual counts, network context (`community_ties`, and the share of adults
among the subject's connections, when the event had them) and times only - never message
text. `other` is the pseudonym of the account reached when a pseudonym key is configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..bands.age import AgeBand
from ..policy.model import EventKind

# One character each: evidence lists are the biggest part of a signal's memory in Redis.
_KIND_CODES = {
    EventKind.CONTACT_REQUEST: "q",
    EventKind.CONTACT_REJECTED: "r",
    EventKind.CONTACT_ACCEPTED: "a",
    EventKind.BLOCKED: "b",
    EventKind.REPORTED: "p",
    EventKind.DM_DENIED: "d",
    EventKind.DIRECT_MESSAGE: "m",
}
_BAND_CODES = {
    AgeBand.UNDER_13: "c",
    AgeBand.B13_15: "y",
    AgeBand.B16_17: "s",
    AgeBand.ADULT: "a",
    AgeBand.UNKNOWN: "u",
}
_KINDS = {code: kind for kind, code in _KIND_CODES.items()}
_BANDS = {code: band for band, code in _BAND_CODES.items()}


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    kind: EventKind
    other: str
    other_band: AgeBand
    mutual: int | None
    at: float
    ties: int | None = None  # the pair's `community_ties`, when the event was counted by them
    # The percentage of the subject's connections who were adults, when the event was read with it.
    adult_connections: int | None = None

    def encode(self) -> str:
        return encode_evidence(
            self.kind, self.other, self.other_band, self.mutual, self.at, self.ties, self.adult_connections
        )

    @classmethod
    def decode(cls, text: str | bytes) -> EvidenceItem:
        if isinstance(text, bytes):
            text = text.decode()
        kind, band, counts, at, other = text.split("|", 4)
        mutual, _, rest = counts.partition(";")
        ties, _, adults = rest.partition(";")
        return cls(
            _KINDS[kind],
            other,
            _BANDS[band],
            int(mutual) if mutual else None,
            float(at),
            int(ties) if ties else None,
            int(adults) if adults else None,
        )

    def to_json(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "kind": self.kind.value,
            "other": self.other,
            "other_band": self.other_band.value,
            "mutual": self.mutual,
            "at": self.at,
        }
        if self.ties is not None:
            item["ties"] = self.ties
        if self.adult_connections is not None:
            item["subject_adult_connections"] = self.adult_connections
        return item


def encode_evidence(
    kind: EventKind,
    other: str,
    other_band: AgeBand,
    mutual: int | None,
    at: float,
    ties: int | None = None,
    adult_connections: int | None = None,
) -> str:
    """`EvidenceItem(...).encode()` without the item: the Redis store encodes one per event."""
    # `other` goes last: a raw account id may contain the separator. The ties and the share
    # of adults share the mutual count's field (`mutual;ties;adults`, each part empty when
    # unknown), so items written without them read as before.
    counts = "" if mutual is None else str(mutual)
    if ties is not None or adult_connections is not None:
        counts += ";" if ties is None else f";{ties}"
    if adult_connections is not None:
        counts += f";{adult_connections}"
    return f"{_KIND_CODES[kind]}|{_BAND_CODES[other_band]}|{counts}|{int(at)}|{other}"
