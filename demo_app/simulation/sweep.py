"""The precision/recall trade-off of the policy's main knobs: each knob scaled over a few
values with the rest of the policy as it is, one world per setting, measured as `simulate`
measures one run.

A knob is an alerting signal's threshold (a count or a rate) or a capped rule's
`actor_count.min`, named by its id. Each setting is a small policy file that `extends` the
policy under study and overrides that one value, so the sweep runs the policy the middleware
would load, not a copy of it.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .outcome import Outcome
from .parameters import Parameters, SimulationError
from .run import simulate
from .stack import read_policy
from .summary import summarise

# The baseline's main knobs: the rejection signals that raise most of its alerts, and the
# cap on requests to children outside the requester's circle (docs/signals.md).
DEFAULT_KNOBS = (
    "scattered-rejections-by-minors",
    "early-rejections-from-minors",
    "rejection-rate-from-minors",
    "stranger-request-cap",
)
DEFAULT_SCALES = (0.5, 1.0, 1.5, 2.0)
# A world small enough for a dozen settings to run in a few minutes; flags scale it.
SWEEP_ACCOUNTS = 1000
SWEEP_DAYS = 7
SWEEP_GROOMERS = 12


class KnobKind(enum.StrEnum):
    COUNT = "count"  # a count signal's threshold: whole events or accounts
    RATE = "rate"  # a rate signal's threshold: a share, at most 1
    CAP = "cap"  # a rule's actor_count.min: whole events or accounts


@dataclass(frozen=True, slots=True)
class Knob:
    """One value of the policy, as the policy gives it."""

    id: str
    kind: KnobKind
    value: float
    when: dict[str, Any] | None = None  # a capped rule's whole `when` (overrides replace it)

    def scaled(self, scale: float) -> float:
        if self.kind is KnobKind.RATE:
            return min(1.0, round(self.value * scale, 3))
        return float(max(1, math.floor(self.value * scale + 0.5)))

    def override(self, value: float) -> dict[str, Any]:
        """The policy fragment that sets this knob to `value`."""
        if self.kind is KnobKind.COUNT:
            return {"signals": {"counts": [{"id": self.id, "threshold": int(value)}]}}
        if self.kind is KnobKind.RATE:
            return {"signals": {"rates": [{"id": self.id, "threshold": value}]}}
        when = dict(self.when or {})
        when["actor_count"] = {**when["actor_count"], "min": int(value)}
        return {"rules": [{"id": self.id, "when": when}]}


def find_knobs(policy: Path, ids: Sequence[str]) -> list[Knob]:
    """The knobs named `ids` in the policy at `policy`; an id that is not an enabled alerting
    signal or an enabled capped rule of it is refused, naming the ones that are."""
    loaded = read_policy(policy)
    counts = {
        s.id: s
        for s in loaded.signals.counts
        if s.enabled and s.alert and s.threshold is not None
    }
    rates = {s.id: s for s in loaded.signals.rates if s.enabled}
    caps = {r.id: r for r in loaded.rules if r.enabled and r.when.actor_count is not None}
    knobs = []
    for knob_id in ids:
        if knob_id in counts:
            threshold = counts[knob_id].threshold
            assert threshold is not None  # filtered above
            knobs.append(Knob(knob_id, KnobKind.COUNT, float(threshold)))
        elif knob_id in rates:
            knobs.append(Knob(knob_id, KnobKind.RATE, rates[knob_id].threshold))
        elif knob_id in caps:
            rule = caps[knob_id]
            when = rule.when.model_dump(mode="json", exclude_none=True)
            knobs.append(Knob(knob_id, KnobKind.CAP, float(when["actor_count"]["min"]), when))
        else:
            known = ", ".join(sorted({*counts, *rates, *caps}))
            raise SimulationError(
                f"knob {knob_id!r} is not an enabled alerting signal or capped rule of the"
                f" policy (its knobs: {known})"
            )
    return knobs


def parse_scales(text: str) -> tuple[float, ...]:
    """`0.5,1,2`: factors each knob is multiplied by (1 is the policy as it is)."""
    scales: list[float] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            scale = float(part)
        except ValueError:
            raise SimulationError(f"scale {part!r} is not a number") from None
        if not 0 < scale < math.inf:
            raise SimulationError(f"scale {part!r} must be a positive number")
        if scale not in scales:
            scales.append(scale)
    if not scales:
        raise SimulationError(f"scales {text!r} name no scale")
    return tuple(scales)


@dataclass(frozen=True, slots=True)
class Setting:
    """One policy of the sweep: a knob at one value, or (knob None) the policy as it is."""

    knob: Knob | None
    scale: float
    value: float | None

    @property
    def label(self) -> str:
        if self.knob is None:
            return "policy as it is"
        return f"{self.knob.id} x{self.scale:g} = {self.value:g}"


def settings(knobs: Sequence[Knob], scales: Sequence[float]) -> list[Setting]:
    """The policy as it is, then each knob at each scale that changes its value (two scales
    that round to one value, or to the policy's own, run once)."""
    found = [Setting(None, 1.0, None)]
    for knob in knobs:
        seen = {knob.value}
        for scale in sorted(scales):
            value = knob.scaled(scale)
            if value not in seen:
                seen.add(value)
                found.append(Setting(knob, scale, value))
    return found


def _point(setting: Setting, outcomes: Sequence[Outcome]) -> dict[str, Any]:
    spread = summarise(outcomes)["spread"]
    return {
        "knob": None if setting.knob is None else setting.knob.id,
        "kind": None if setting.knob is None else setting.knob.kind.value,
        "scale": setting.scale,
        "value": setting.value,
        "policy_value": None if setting.knob is None else setting.knob.value,
        # Means over the seeds.
        "recall": spread["recall"]["mean"],
        "precision": spread["precision"]["mean"],
        "false_alerts_per_1000_benign_adults": spread["false_alerts_per_1000_benign_adults"]["mean"],
        "children_reached_before_alert": spread["children_reached_before_alert"]["mean"],
        "hours_first_contact_to_alert_median": spread["hours_first_contact_to_alert_median"]["mean"],
    }


def run_sweep(
    params: Parameters,
    seeds: Sequence[int],
    knobs: Sequence[Knob],
    scales: Sequence[float],
    on_day: Callable[[int], None] | None = None,
    run: Callable[[Parameters, Callable[[int], None] | None], Outcome] = simulate,
) -> dict[str, Any]:
    """Every setting on every seed; one point per setting, its figures the seeds' means."""
    base = Path(params.policy).resolve()
    points = []
    with tempfile.TemporaryDirectory(prefix="safe-accounts-sweep-") as tmp:
        for n, setting in enumerate(settings(knobs, scales)):
            policy = base
            if setting.knob is not None and setting.value is not None:
                policy = Path(tmp) / f"setting-{n}.yaml"
                document = {
                    "version": 1,
                    "name": f"sweep-{n}",
                    "extends": os.path.relpath(base, policy.parent),
                    **setting.knob.override(setting.value),
                }
                policy.write_text(yaml.safe_dump(document, sort_keys=False))
            outcomes = [
                run(dataclasses.replace(params, seed=seed, policy=policy), on_day)
                for seed in seeds
            ]
            points.append(_point(setting, outcomes))
    return {
        "parameters": {**params.to_json(), "seeds": list(seeds)},
        "knobs": [{"id": k.id, "kind": k.kind.value, "value": k.value} for k in knobs],
        "scales": list(scales),
        "points": points,
    }


def count_settings(knobs: Sequence[Knob], scales: Sequence[float]) -> int:
    return len(settings(knobs, scales))


__all__ = [
    "DEFAULT_KNOBS",
    "DEFAULT_SCALES",
    "SWEEP_ACCOUNTS",
    "SWEEP_DAYS",
    "SWEEP_GROOMERS",
    "Knob",
    "KnobKind",
    "count_settings",
    "find_knobs",
    "parse_scales",
    "run_sweep",
    "settings",
]
