"""A synthetic population driven through the demo app behind Safe Accounts, in-process,
on a simulated clock; the outcome measured against the ground truth.

    outcome = simulate(Parameters(accounts=3000, days=14, seed=1))
    print(render_table(outcome)); json.dumps(outcome.to_json())

See docs/simulation.md for the model, its assumptions and its parameters.
"""

from __future__ import annotations

from .outcome import Outcome
from .parameters import DEFAULT_MIX, Parameters, SimulationError, Tactic, default_policy, parse_mix
from .population import Population, Role, build_population
from .report import render_table
from .run import run_simulation, simulate
from .summary import render_summary, summarise
from .sweep import find_knobs, parse_scales, run_sweep
from .sweep_chart import render_chart

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
    "find_knobs",
    "parse_mix",
    "parse_scales",
    "render_chart",
    "render_summary",
    "render_table",
    "run_simulation",
    "run_sweep",
    "simulate",
    "summarise",
]
