"""`safe-accounts simulate`: a synthetic population driven through the demo app behind
Safe Accounts, with precision and recall of the grooming alerts (docs/simulation.md).

The simulation drives the demo app, which lives in the repository, not in the wheel: the
command runs from a checkout and says so when it cannot find one.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import click

NEEDS_CHECKOUT = (
    "the simulation drives the demo app (demo_app/), which is not part of the installed "
    "package: run `safe-accounts simulate` from a checkout of the Safe Accounts repository"
)


def _simulation() -> ModuleType:
    """`demo_app.simulation`, from the path or from the checkout this package sits in."""
    try:
        return importlib.import_module("demo_app.simulation")
    except ModuleNotFoundError as exc:
        if exc.name not in ("demo_app", "demo_app.simulation"):
            raise
    # An editable install: the package is middleware/safe_accounts in the checkout.
    for root in (Path(__file__).resolve().parents[3], Path.cwd()):
        if (root / "demo_app" / "simulation" / "__init__.py").is_file():
            sys.path.insert(0, str(root))
            try:
                return importlib.import_module("demo_app.simulation")
            except ModuleNotFoundError as exc:
                if exc.name not in ("demo_app", "demo_app.simulation"):
                    raise
    raise click.ClickException(NEEDS_CHECKOUT)


@click.command("simulate")
@click.option(
    "--accounts", type=int, default=None, help="Accounts in the population (default 3000)."
)
@click.option("--days", type=int, default=None, help="Simulated days (default 14).")
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Random seed: the same seed gives the same result (default 1).",
)
@click.option(
    "--groomers",
    type=int,
    default=None,
    help="Groomers, as people (default 30; `spread` ones run 3 accounts).",
)
@click.option(
    "--mix",
    default=None,
    metavar="TACTIC=WEIGHT,...",
    help=(
        "Groomer tactics (aggressive, slow, spread, patient) and their weights, e.g. "
        "aggressive=1,slow=2 (default aggressive=0.3,slow=0.3,spread=0.2,patient=0.2)."
    ),
)
@click.option(
    "--policy",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Policy file (default policies/demo.yaml, or the demo app's draft while it does not exist).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Also write the outcome as JSON here.",
)
def command(
    accounts: int | None,
    days: int | None,
    seed: int | None,
    groomers: int | None,
    mix: str | None,
    policy: Path | None,
    out: Path | None,
) -> None:
    """Drive a synthetic population through the demo app and measure the alerts."""
    sim = _simulation()
    # An alert is a warning in a live service; here it is the expected result, counted below.
    logging.getLogger("safe_accounts").setLevel(logging.ERROR)
    given: dict[str, Any] = {
        k: v
        for k, v in {
            "accounts": accounts,
            "days": days,
            "seed": seed,
            "groomers": groomers,
            "policy": policy,
        }.items()
        if v is not None
    }
    try:
        if mix is not None:
            given["mix"] = sim.parse_mix(mix)
        params = sim.Parameters(**given)
        if out is not None and not out.parent.is_dir():
            raise click.BadParameter(
                f"folder {str(out.parent)!r} does not exist", param_hint="--out"
            )
        began = time.perf_counter()
        outcome = sim.simulate(params)
    except sim.SimulationError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(sim.render_table(outcome))
    if out is not None:
        out.write_text(json.dumps(outcome.to_json(), indent=2, sort_keys=True) + "\n")
        click.echo(f"\noutcome written to {out}")
    took = f"ran in {time.perf_counter() - began:.1f} s"
    if outcome.retried:
        took += f"; {outcome.retried} requests answered 503 by a busy machine were retried"
    click.echo(f"({took})", err=True)
