"""A synthetic population driven through the demo app behind Safe Accounts, in-process,
on a simulated clock; the outcome measured against the ground truth.

    outcome = simulate(Parameters(accounts=3000, days=14, seed=1))
    print(render_table(outcome)); json.dumps(outcome.to_json())

See docs/simulation.md for the model, its assumptions and its parameters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .driver import drive, scratch
from .outcome import Outcome, measure
from .parameters import DEFAULT_MIX, Parameters, SimulationError, Tactic, default_policy, parse_mix
from .population import Population, Role, build_population
from .report import render_table
from .summary import render_summary, summarise


async def run_simulation(params: Parameters, on_day: Callable[[int], None] | None = None) -> Outcome:
    """Build, drive and measure one run in a scratch database that is removed afterwards;
    `on_day(n)` hears each simulated day as it ends."""
    with scratch() as workdir:
        run = await drive(params, workdir, on_day)
        return await measure(run, params)


def simulate(params: Parameters, on_day: Callable[[int], None] | None = None) -> Outcome:
    return asyncio.run(run_simulation(params, on_day))


__all__ = [
    "DEFAULT_MIX",
    "Outcome",
    "Parameters",
    "Population",
    "Role",
    "SimulationError",
    "Tactic",
    "build_population",
    "default_policy",
    "parse_mix",
    "render_summary",
    "render_table",
    "run_simulation",
    "simulate",
    "summarise",
]
