"""The policy's signals, compiled once at start-up into what the recorder and stores read.

A count signal's sliding window is counted in buckets of ceil(window / 60) seconds (at most
60 buckets per window), so a signal's memory is bounded whatever the event rate. The window
a count sees is therefore between `window - bucket` and `window` long: with the baseline's
`7d`, buckets are 2.8 hours.

Every `where:` filter runs here, in Python, before anything is written - except
`accepted_within`, which asks when the pair's contact request was accepted: the store knows
(an `Acceptance` tells it), and checks it in the same call that counts.
"""

from __future__ import annotations

import math
import zoneinfo
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo

from ..bands.age import AgeBand, expand_bands
from ..errors import ConfigurationError
from ..policy.model import CountSignal, EventKind, NightHours, RateSignal, Score, Signals
from .events import Event

BUCKETS_PER_WINDOW = 60
DISTINCT_CAP_FACTOR = 4  # distinct others kept per window: exact up to 4x the threshold
# Distinct others kept by a signal that only counts (`alert: false`): what rules read of it
# (`actor_count`) is exact up to this.
COUNTED_CAP = 400
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def window_seconds(text: str) -> int:
    """`30m` -> 1800. The policy model has already checked the shape."""
    try:
        seconds = int(text[:-1]) * _UNITS[text[-1]]
    except (KeyError, ValueError):
        raise ConfigurationError(f"window {text!r} is not a number followed by s, m, h or d") from None
    if seconds <= 0:
        raise ConfigurationError(f"window {text!r} must be longer than zero")
    return seconds


@dataclass(frozen=True, slots=True)
class NightClock:
    """`signals.night`, compiled: whether a moment is at night in the zone's local time."""

    start: int  # minutes after local midnight
    end: int
    zone: tzinfo

    @classmethod
    def compile(cls, night: NightHours) -> NightClock:
        try:
            zone = zoneinfo.ZoneInfo(night.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigurationError(
                f"signals.night: {night.timezone!r} is not a time zone this system knows"
            ) from None
        return cls(_minutes(night.from_), _minutes(night.to), zone)

    def holds(self, at: float) -> bool:
        local = datetime.fromtimestamp(at, self.zone)
        minute = local.hour * 60 + local.minute
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end  # across midnight


def _minutes(clock: str) -> int:
    hours, _, minutes = clock.partition(":")
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True, slots=True)
class CountSpec:
    id: str
    event: EventKind
    window: int  # seconds
    bucket: int  # seconds
    distinct: bool  # count distinct others rather than events
    threshold: int  # 0: never alerts (`alert: false`), counted for rules and rates only
    cap: int  # distinct others kept per window
    reason: str
    restrict: bool
    other_bands: frozenset[AgeBand] | None
    mutual_min: int | None
    mutual_max: int | None
    refused: bool | None  # only refused attempts (True), only the others (False), or both
    key_name: str  # the id and window, so a changed window never reads old buckets
    ties_min: int | None = None
    ties_max: int | None = None
    subject_bands: frozenset[AgeBand] | None = None
    vouched: bool | None = None  # only (not) vouched subjects; None: both
    adults_min: int | None = None  # the subject's adult connections, in percent
    adults_max: int | None = None
    # Only events within this many seconds after the other accepted the subject's contact
    # request: checked by the store, which remembers acceptances for `acceptance_memory`
    # (the plan's longest `accepted_within`, so every such signal reads the same memory).
    accepted_within: int | None = None
    acceptance_memory: int = 0
    at_night: bool | None = None  # only events at night (True), only by day (False), or both
    night: NightClock | None = None  # the policy's night, when `at_night` asks

    @property
    def alerts(self) -> bool:
        return self.threshold > 0

    @property
    def buckets(self) -> int:
        """Buckets in one window."""
        return -(-self.window // self.bucket)

    def matches(self, event: Event) -> bool:
        if self.other_bands is not None and event.other_band not in self.other_bands:
            return False
        if self.subject_bands is not None and event.subject_band not in self.subject_bands:
            return False
        if self.refused is not None and event.refused is not self.refused:
            return False
        if self.vouched is not None and event.vouched is not self.vouched:
            return False
        if self.night is not None and self.night.holds(event.at) is not self.at_night:
            return False
        # An unknown count matches no range: an alert accuses someone, so it is raised only
        # on what is known.
        return (
            _within(event.mutual, self.mutual_min, self.mutual_max)
            and _within(event.ties, self.ties_min, self.ties_max)
            and _within(event.adult_connections, self.adults_min, self.adults_max)
        )

    @classmethod
    def compile(
        cls, signal: CountSignal, *, unknown_is_minor: bool, night: NightClock | None = None
    ) -> CountSpec:
        window = window_seconds(signal.window)
        bucket = max(1, math.ceil(window / BUCKETS_PER_WINDOW))
        where = signal.where
        bands = (
            None
            if where.other_band is None
            else expand_bands(where.other_band, unknown_is_minor=unknown_is_minor)
        )
        mutual = where.mutual_connections
        ties = where.community_ties
        adults = where.subject_adult_connections
        return cls(
            id=signal.id,
            event=signal.event,
            window=window,
            bucket=bucket,
            distinct=signal.count == "distinct_others",
            threshold=signal.threshold if signal.alert and signal.threshold else 0,
            cap=signal.threshold * DISTINCT_CAP_FACTOR if signal.alert and signal.threshold else COUNTED_CAP,
            reason=signal.reason,
            restrict=signal.escalate.restrict,
            other_bands=bands,
            mutual_min=None if mutual is None else mutual.min,
            mutual_max=None if mutual is None else mutual.max,
            refused=where.refused,
            key_name=f"{signal.id}/{signal.window}",
            ties_min=None if ties is None else ties.min,
            ties_max=None if ties is None else ties.max,
            subject_bands=None
            if where.subject_band is None
            else expand_bands(where.subject_band, unknown_is_minor=unknown_is_minor),
            vouched=where.vouched,
            adults_min=None if adults is None else adults.min,
            adults_max=None if adults is None else adults.max,
            accepted_within=None if where.accepted_within is None else window_seconds(where.accepted_within),
            at_night=where.at_night,
            night=None if where.at_night is None else night,
        )

    @property
    def needs_ties(self) -> bool:
        return self.ties_min is not None or self.ties_max is not None

    @property
    def needs_acceptance(self) -> bool:
        return self.accepted_within is not None


def _within(value: int | None, low: int | None, high: int | None) -> bool:
    if low is None and high is None:
        return True
    if value is None:
        return False
    return (low is None or value >= low) and (high is None or value <= high)


@dataclass(frozen=True, slots=True)
class RateSpec:
    id: str
    numerator: CountSpec
    denominator: CountSpec
    min_denominator: int
    threshold: float
    window: int  # the longer of the two windows: one alert per rate and window
    reason: str
    restrict: bool
    key_name: str

    def crossed(self, numerator: int, denominator: int) -> bool:
        return denominator >= self.min_denominator and numerator >= self.threshold * denominator


@dataclass(frozen=True, slots=True)
class ScorePartSpec:
    """One part of a score: a count or a rate signal, and what one unit of its value adds."""

    signal: str
    weight: float
    count: CountSpec | None = None
    rate: RateSpec | None = None

    @property
    def counts(self) -> tuple[CountSpec, ...]:
        """The counts its value is read from: one, or a rate's numerator and denominator."""
        if self.rate is not None:
            return (self.rate.numerator, self.rate.denominator)
        assert self.count is not None
        return (self.count,)

    @property
    def window(self) -> int:
        return self.rate.window if self.rate is not None else self.count.window if self.count is not None else 0

    def value(self, read: tuple[int, ...]) -> float:
        """The signal's current value from its counts as read: a count, or a rate once its
        `min_denominator` is met (0 before: too few answers to say anything)."""
        if self.rate is None:
            return float(read[0])
        numerator, denominator = read
        if denominator < self.rate.min_denominator:
            return 0.0
        return numerator / denominator


@dataclass(frozen=True, slots=True)
class ScoreSpec:
    id: str
    threshold: float
    parts: tuple[ScorePartSpec, ...]  # those with a weight above 0
    reason: str
    restrict: bool
    window: int  # the longest part's window: one crossing per score and window

    @property
    def counts(self) -> frozenset[str]:
        """The ids of the counts whose events can change the score."""
        return frozenset(count.id for part in self.parts for count in part.counts)


@dataclass(frozen=True, slots=True)
class Observation:
    """One event to count under one signal, and the rates to check right after."""

    event: Event
    count: CountSpec
    rates: tuple[RateSpec, ...]


@dataclass(frozen=True, slots=True)
class Acceptance:
    """`event.other` accepted a contact request from `event.subject` at `event.at`: the store
    remembers the pair's time for `memory` seconds, for signals that count only events soon
    after it (`accepted_within`). Nothing else of the event is kept."""

    event: Event
    memory: int


# What a batch hands the store, in the order submitted.
Note = Observation | Acceptance


@dataclass(frozen=True, slots=True)
class SignalPlan:
    counts: tuple[CountSpec, ...]
    rates: tuple[RateSpec, ...]
    by_kind: dict[EventKind, tuple[tuple[CountSpec, tuple[RateSpec, ...]], ...]]
    # How long acceptances are remembered (0: no signal asks, none is), and of which
    # others' bands (None: all): those a signal with `accepted_within` may count.
    acceptance_memory: int = 0
    acceptance_bands: frozenset[AgeBand] | None = None
    scores: tuple[ScoreSpec, ...] = ()

    @property
    def scored_counts(self) -> frozenset[str]:
        """The ids of the counts some score reads: an event counted under one is scored."""
        return frozenset(name for score in self.scores for name in score.counts)

    @classmethod
    def compile(cls, signals: Signals, *, unknown_is_minor: bool = True) -> SignalPlan:
        enabled = [s for s in signals.counts if s.enabled]
        night = NightClock.compile(signals.night) if any(s.where.at_night is not None for s in enabled) else None
        counts = tuple(CountSpec.compile(s, unknown_is_minor=unknown_is_minor, night=night) for s in enabled)
        memory = max((c.accepted_within or 0 for c in counts), default=0)
        counts = tuple(replace(c, acceptance_memory=memory) if c.needs_acceptance else c for c in counts)
        asking = [c for c in counts if c.needs_acceptance]
        bands = (
            None if any(c.other_bands is None for c in asking)
            else frozenset(b for c in asking for b in c.other_bands or ())
        )
        by_id = {c.id: c for c in counts}
        if len(by_id) != len(counts):
            raise ConfigurationError("two count signals share an id")
        rates = tuple(_rate(r, by_id) for r in signals.rates if r.enabled)
        by_kind: dict[EventKind, list[tuple[CountSpec, tuple[RateSpec, ...]]]] = {}
        for count in counts:
            involved = tuple(r for r in rates if count in (r.numerator, r.denominator))
            by_kind.setdefault(count.event, []).append((count, involved))
        rates_by_id = {r.id: r for r in rates}
        scores = tuple(_score(s, by_id, rates_by_id) for s in signals.scores if s.enabled)
        return cls(
            counts, rates, {kind: tuple(pairs) for kind, pairs in by_kind.items()},
            acceptance_memory=memory, acceptance_bands=bands, scores=scores,
        )

    def count_named(self, signal: str) -> CountSpec | None:
        return next((count for count in self.counts if count.id == signal), None)

    def observations(self, event: Event) -> list[Note]:
        """What the store does with `event`: the signals it counts under, after their `where`
        filters, and, for an acceptance a signal may ask about, remembering it first."""
        found: list[Note] = [
            Observation(event, count, rates)
            for count, rates in self.by_kind.get(event.kind, ())
            if count.matches(event)
        ]
        if (
            self.acceptance_memory
            and event.kind is EventKind.CONTACT_ACCEPTED
            and (self.acceptance_bands is None or event.other_band in self.acceptance_bands)
        ):
            found.insert(0, Acceptance(event, self.acceptance_memory))
        return found


def _rate(rate: RateSignal, counts: dict[str, CountSpec]) -> RateSpec:
    missing = [name for name in (rate.numerator, rate.denominator) if name not in counts]
    if missing:
        raise ConfigurationError(
            f"rate signal {rate.id!r} refers to {', '.join(map(repr, missing))}, "
            "which is not an enabled count signal"
        )
    numerator, denominator = counts[rate.numerator], counts[rate.denominator]
    return RateSpec(
        id=rate.id,
        numerator=numerator,
        denominator=denominator,
        min_denominator=rate.min_denominator,
        threshold=rate.threshold,
        window=max(numerator.window, denominator.window),
        reason=rate.reason,
        restrict=rate.escalate.restrict,
        key_name=f"{rate.id}/rate",
    )


def _score(score: Score, counts: dict[str, CountSpec], rates: dict[str, RateSpec]) -> ScoreSpec:
    parts: list[ScorePartSpec] = []
    for part in score.parts:
        if part.weight == 0:
            continue  # left out, e.g. by an app's policy over its base
        if part.signal in counts:
            parts.append(ScorePartSpec(part.signal, part.weight, count=counts[part.signal]))
        elif part.signal in rates:
            parts.append(ScorePartSpec(part.signal, part.weight, rate=rates[part.signal]))
        else:
            raise ConfigurationError(
                f"score {score.id!r} reads {part.signal!r}, which is not an enabled count or rate signal"
            )
    return ScoreSpec(
        id=score.id,
        threshold=score.threshold,
        parts=tuple(parts),
        reason=score.reason,
        restrict=score.escalate.restrict,
        window=max(part.window for part in parts),
    )
