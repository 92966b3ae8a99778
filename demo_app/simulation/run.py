"""One run: build, drive and measure, in a scratch database removed afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .driver import drive, scratch
from .outcome import Outcome, measure
from .parameters import Parameters


async def run_simulation(params: Parameters, on_day: Callable[[int], None] | None = None) -> Outcome:
    """Build, drive and measure one run in a scratch database that is removed afterwards;
    `on_day(n)` hears each simulated day as it ends."""
    with scratch() as workdir:
        run = await drive(params, workdir, on_day)
        return await measure(run, params)


def simulate(params: Parameters, on_day: Callable[[int], None] | None = None) -> Outcome:
    return asyncio.run(run_simulation(params, on_day))


__all__ = ["run_simulation", "simulate"]
