"""Time, injectable: the simulation and the tests run on a clock they control.

Bands move on with dates and signals slide with seconds, so every component that
asks "when is it?" asks a `Clock`, never `datetime.now()` directly.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (UTC)."""

    def today(self) -> date:
        """The current UTC date."""


class SystemClock:
    """The real time."""

    def now(self) -> float:
        return time.time()

    def today(self) -> date:
        return datetime.now(UTC).date()


class FrozenClock:
    """A clock that moves only when told to: for tests and the simulation."""

    def __init__(self, start: float | datetime = 1_800_000_000.0) -> None:
        self._now = start.timestamp() if isinstance(start, datetime) else float(start)

    def now(self) -> float:
        return self._now

    def today(self) -> date:
        return datetime.fromtimestamp(self._now, UTC).date()

    def advance(self, seconds: float) -> None:
        self._now += seconds

    def set(self, when: float | datetime) -> None:
        self._now = when.timestamp() if isinstance(when, datetime) else float(when)


SYSTEM_CLOCK = SystemClock()
