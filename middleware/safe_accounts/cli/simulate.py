"""`safe-accounts simulate`: a synthetic population driven through the demo app behind
Safe Accounts, with precision and recall of the grooming alerts (docs/simulation.md).

The simulation drives the demo app, which lives in the repository, not in the wheel: the
command runs from a checkout and says so when it cannot find one.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import click

from ._progress import progress

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
    "--seeds",
    default=None,
    metavar="FIRST-LAST|S,S,...",
    help="Run several seeds (e.g. 1-5) and print each one's headline figures and their spread.",
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
        "Groomer tactics (aggressive, slow, spread, patient, via_parents, impersonator, "
        "coach_pace) and their weights, e.g. aggressive=1,slow=2 (default: 0.15 each, "
        "spread 0.1)."
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
@click.option(
    "--vouched",
    is_flag=True,
    help=(
        "Teachers, coaches and youth workers are vouched for in the app's staff_vouches table "
        "(the policy's relationships.vouched); otherwise nobody is."
    ),
)
@click.option(
    "--sweep",
    is_flag=True,
    help=(
        "Scale the policy's main knobs (--knobs) over a few values (--scales), one world per "
        "setting, and draw precision against recall as an SVG chart (--chart). The world is "
        "small unless --accounts, --days or --groomers say otherwise."
    ),
)
@click.option(
    "--chart",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="With --sweep: where to write the SVG chart (default simulation-sweep.svg here).",
)
@click.option(
    "--knobs",
    default=None,
    metavar="ID,ID,...",
    help=(
        "With --sweep: the alerting signals (their threshold) and capped rules (their "
        "actor_count.min) to scale, by id (default: scattered-rejections-by-minors, "
        "early-rejections-from-minors, rejection-rate-from-minors, stranger-request-cap)."
    ),
)
@click.option(
    "--scales",
    default=None,
    metavar="F,F,...",
    help="With --sweep: the factors each knob is scaled by (default 0.5,1,1.5,2).",
)
def command(
    accounts: int | None,
    days: int | None,
    seed: int | None,
    seeds: str | None,
    groomers: int | None,
    mix: str | None,
    policy: Path | None,
    out: Path | None,
    vouched: bool,
    sweep: bool,
    chart: Path | None,
    knobs: str | None,
    scales: str | None,
) -> None:
    """Drive a synthetic population through the demo app and measure the alerts."""
    sim = _simulation()
    # An alert is a warning in a live service; here it is the expected result, counted below.
    logging.getLogger("safe_accounts").setLevel(logging.ERROR)
    if not sweep and (chart, knobs, scales) != (None, None, None):
        raise click.UsageError("--chart, --knobs and --scales go with --sweep")
    if sweep:
        _sweep(
            sim, accounts, days, seed, seeds, groomers, mix, policy, out, vouched, chart, knobs, scales
        )
        return
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
    given["vouched"] = vouched
    try:
        if mix is not None:
            given["mix"] = sim.parse_mix(mix)
        params = sim.Parameters(**given)
        if out is not None and not out.parent.is_dir():
            raise click.BadParameter(
                f"folder {str(out.parent)!r} does not exist", param_hint="--out"
            )
        if seeds is not None and seed is not None:
            raise click.UsageError("give --seed or --seeds, not both")
        chosen = [params.seed] if seeds is None else _parse_seeds(seeds)
        began = time.perf_counter()
        with progress("simulating days", params.days * len(chosen)) as bar:
            outcomes = [
                sim.simulate(dataclasses.replace(params, seed=one), lambda _day: bar.advance())
                for one in chosen
            ]
    except sim.SimulationError as exc:
        raise click.UsageError(str(exc)) from None
    if seeds is None:
        result: Any = outcomes[0].to_json()
        click.echo(sim.render_table(outcomes[0]))
    else:
        summary = sim.summarise(outcomes)
        result = {"summary": summary, "runs": [o.to_json() for o in outcomes]}
        click.echo(sim.render_summary(summary))
    if out is not None:
        out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        click.echo(f"\noutcome written to {out}")
    took = f"ran in {time.perf_counter() - began:.1f} s"
    retried = sum(o.retried for o in outcomes)
    if retried:
        took += f"; {retried} requests answered 503 by a busy machine were retried"
    click.echo(f"({took})", err=True)


def _sweep(
    sim: ModuleType,
    accounts: int | None,
    days: int | None,
    seed: int | None,
    seeds: str | None,
    groomers: int | None,
    mix: str | None,
    policy: Path | None,
    out: Path | None,
    vouched: bool,
    chart: Path | None,
    knobs: str | None,
    scales: str | None,
) -> None:
    """`simulate --sweep`: every setting of every knob on a small world, drawn as a chart."""
    sweeping = sim.sweep  # demo_app.simulation.sweep, imported with the package

    chart = chart if chart is not None else Path("simulation-sweep.svg")
    given: dict[str, Any] = {
        "accounts": sweeping.SWEEP_ACCOUNTS if accounts is None else accounts,
        "days": sweeping.SWEEP_DAYS if days is None else days,
        "groomers": sweeping.SWEEP_GROOMERS if groomers is None else groomers,
        "vouched": vouched,
    }
    if policy is not None:
        given["policy"] = policy
    try:
        if mix is not None:
            given["mix"] = sim.parse_mix(mix)
        if seed is not None:
            given["seed"] = seed
        params = sim.Parameters(**given)
        for path, hint in ((out, "--out"), (chart, "--chart")):
            if path is not None and not path.parent.is_dir():
                raise click.BadParameter(
                    f"folder {str(path.parent)!r} does not exist", param_hint=hint
                )
        if seeds is not None and seed is not None:
            raise click.UsageError("give --seed or --seeds, not both")
        chosen = [params.seed] if seeds is None else _parse_seeds(seeds)
        ids = sweeping.DEFAULT_KNOBS if knobs is None else [k.strip() for k in knobs.split(",") if k.strip()]
        factors = sweeping.DEFAULT_SCALES if scales is None else sim.parse_scales(scales)
        found = sim.find_knobs(params.policy, ids)
        began = time.perf_counter()
        runs = sweeping.count_settings(found, factors) * len(chosen)
        with progress("simulating days", params.days * runs) as bar:
            result = sim.run_sweep(params, chosen, found, factors, lambda _day: bar.advance())
    except sim.SimulationError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(_render_sweep(result))
    chart.write_text(sim.render_chart(result))
    click.echo(f"\nchart written to {chart}")
    if out is not None:
        out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        click.echo(f"sweep written to {out}")
    click.echo(f"(ran {runs} simulations in {time.perf_counter() - began:.1f} s)", err=True)


def _render_sweep(result: dict[str, Any]) -> str:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 100:.1f}%"

    lines = [
        f"{'setting':<44} {'recall':>8} {'precision':>10} {'FA/1000':>8} {'reached':>8}",
    ]
    for p in result["points"]:
        name = "policy as it is" if p["knob"] is None else f"{p['knob']} = {p['value']:g}"
        fa = p["false_alerts_per_1000_benign_adults"]
        reached = p["children_reached_before_alert"]
        lines.append(
            f"{name:<44} {pct(p['recall']):>8} {pct(p['precision']):>10}"
            f" {'n/a' if fa is None else f'{fa:g}':>8} {'n/a' if reached is None else f'{reached:g}':>8}"
        )
    return "\n".join(lines)


def _parse_seeds(text: str) -> list[int]:
    """`1-5` or `1,4,9`: the seeds to run, each once, in the order given."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        first, sep, last = part.partition("-")
        try:
            span = range(int(first), int(last) + 1) if sep else range(int(first), int(first) + 1)
        except ValueError:
            raise click.UsageError(
                f"--seeds {text!r}: {part!r} is not a seed or a FIRST-LAST range"
            ) from None
        if not span or span.start < 0:
            raise click.UsageError(f"--seeds {text!r}: {part!r} names no seed of 0 or more")
        seeds += [s for s in span if s not in seeds]
    return seeds
