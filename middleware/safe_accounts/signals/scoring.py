"""Risk scores: weak signals combined with declared weights, evaluated after each batch.

After a batch is recorded, every subject with an event counted under a count some score
reads is scored: the parts' current values are read from the store (one round trip for
the whole batch on Redis), each weighted, and summed. A score at or above its threshold is
a crossing of the score's id, handed to the alerts like any other, with each part's value,
weight and contribution as its evidence.

Nothing is written for a score: it is read from the counts, so a worker that dies between
recording a batch and scoring it loses no score - the subject's next event reads the same
counts (and more). What keeps a score from crossing again at every later event is this
worker's memory of its crossings, one per (subject, score) and window; a second worker, or
this one restarted, may offer the same crossing once more, and the alert store folds it
into the account's open alert (one alert per account) or refuses it as a duplicate of its
(account, score, window). See docs/signals.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .crossing import Crossing, window_key
from .plan import Note, Observation, ScoreSpec, SignalPlan
from .store import SignalStore

_SWEEP_EVERY = 10_000  # crossings remembered between sweeps of those past their window


@dataclass(frozen=True, slots=True)
class ScoreContribution:
    """One part's share of a score as it crossed: the alert's evidence for a score."""

    signal: str
    value: float
    weight: float
    at: float

    @property
    def contribution(self) -> float:
        return self.value * self.weight

    def to_json(self) -> dict[str, Any]:
        # Shaped like an event (kind, other, band, mutual, time), so that moderators' views
        # and the alert folding that read evidence as events read it too.
        return {
            "kind": "score_part",
            "signal": self.signal,
            "value": round(self.value, 4),
            "weight": self.weight,
            "contribution": round(self.contribution, 4),
            "other": None,
            "other_band": None,
            "mutual": None,
            "at": self.at,
        }


class Scorer:
    """Scores the subjects of recorded batches; remembers what it raised, per window."""

    __slots__ = ("_plan", "_store", "_scored", "_raised", "_writes")

    def __init__(self, plan: SignalPlan, store: SignalStore) -> None:
        self._plan = plan
        self._store = store
        self._scored = plan.scored_counts
        self._raised: dict[tuple[str, str], float] = {}  # (subject, score) -> crossed until
        self._writes = 0

    @property
    def active(self) -> bool:
        return bool(self._plan.scores)

    def subjects(self, notes: Sequence[Note]) -> dict[str, tuple[float, str | None]]:
        """Each subject whose events in `notes` a score reads, with its latest event's time
        and decision."""
        found: dict[str, tuple[float, str | None]] = {}
        for note in notes:
            if isinstance(note, Observation) and note.count.id in self._scored:
                event = note.event
                held = found.get(event.subject)
                if held is None or event.at >= held[0]:
                    found[event.subject] = (event.at, event.decision_id)
        return found

    async def evaluate(self, notes: Sequence[Note]) -> list[Crossing]:
        """The score crossings of a batch just recorded. Raises StorageError."""
        subjects = self.subjects(notes)
        if not subjects:
            return []
        wanted: list[tuple[str, Any, float]] = []
        asks: list[tuple[str, ScoreSpec]] = []
        for subject, (at, _) in subjects.items():
            for score in self._plan.scores:
                if not self._crossed_already(subject, score, at):
                    asks.append((subject, score))
                    wanted += [(subject, count, at) for part in score.parts for count in part.counts]
        read = iter(await self._store.counts(wanted))
        crossings: list[Crossing] = []
        for subject, score in asks:
            at, decision_id = subjects[subject]
            parts = [
                ScoreContribution(part.signal, part.value(tuple(next(read) for _ in part.counts)), part.weight, at)
                for part in score.parts
            ]
            total = sum(part.contribution for part in parts)
            if total >= score.threshold:
                self._raised[(subject, score.id)] = at + score.window
                crossings.append(_crossing(score, subject, at, decision_id, total, parts))
        self._sweep(max(at for at, _ in subjects.values()))
        return crossings

    def _crossed_already(self, subject: str, score: ScoreSpec, at: float) -> bool:
        until = self._raised.get((subject, score.id))
        return until is not None and at < until

    def _sweep(self, now: float) -> None:
        self._writes += 1
        if self._writes < _SWEEP_EVERY:
            return
        self._writes = 0
        for key in [k for k, until in self._raised.items() if until <= now]:
            del self._raised[key]


def _crossing(
    score: ScoreSpec,
    subject: str,
    at: float,
    decision_id: str | None,
    total: float,
    parts: list[ScoreContribution],
) -> Crossing:
    largest_first = sorted(parts, key=lambda p: p.contribution, reverse=True)
    return Crossing(
        signal=score.id,
        subject=subject,
        window_key=window_key(score.window, at),
        at=at,
        counts={"score": round(total, 4), "threshold": score.threshold},
        evidence=tuple(largest_first),
        reason=score.reason,
        restrict=score.restrict,
        decision_id=decision_id,
        kind="score",
    )
