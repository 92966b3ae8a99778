"""What a simulation run is asked to do: sizes, seed, groomer tactics, the policy file.

Checked once, here, into a frozen `Parameters`; everything downstream trusts it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
DEMO_POLICY = REPOSITORY / "policies" / "demo.yaml"

DEFAULT_ACCOUNTS = 3000
DEFAULT_DAYS = 14
DEFAULT_SEED = 1
DEFAULT_GROOMERS = 30  # people, not accounts: a `spread` groomer runs several accounts
MIN_ORDINARY_ACCOUNTS = 60  # below this there is no school, family or class to speak of


class SimulationError(ValueError):
    """A simulation parameter that cannot be used as given; the message says which and why."""


class Tactic(enum.StrEnum):
    """How a groomer goes about it (the product brief's patterns)."""

    AGGRESSIVE = "aggressive"  # many requests a day to children, and DM attempts
    SLOW = "slow"  # one or two requests a day, to stay under the short windows
    SPREAD = "spread"  # several accounts, each under the daily counts
    PATIENT = "patient"  # a request every few days: under the weekly counts too
    # Adversarial: each copies something a benign adult does.
    VIA_PARENTS = "via_parents"  # befriends parents first, then their children and classmates
    IMPERSONATOR = "impersonator"  # signs up with a teen's birth date; requests go to teens
    COACH_PACE = "coach_pace"  # one day of a dozen-plus requests, as a coach's team day, then slow


DEFAULT_MIX: Mapping[Tactic, float] = {
    Tactic.AGGRESSIVE: 0.15,
    Tactic.SLOW: 0.15,
    Tactic.SPREAD: 0.1,
    Tactic.PATIENT: 0.15,
    Tactic.VIA_PARENTS: 0.15,
    Tactic.IMPERSONATOR: 0.15,
    Tactic.COACH_PACE: 0.15,
}


def parse_mix(text: str) -> dict[Tactic, float]:
    """`aggressive=1,slow=2,spread=1` (weights, normalised) into shares per tactic."""
    weights: dict[Tactic, float] = {}
    known = ", ".join(t.value for t in Tactic)
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep:
            raise SimulationError(f"mix entry {part!r} is not TACTIC=WEIGHT (tactics: {known})")
        try:
            tactic = Tactic(name)
        except ValueError:
            raise SimulationError(
                f"unknown groomer tactic {name!r} in the mix (tactics: {known})"
            ) from None
        if tactic in weights:
            raise SimulationError(f"groomer tactic {name!r} appears twice in the mix")
        try:
            weight = float(value)
        except ValueError:
            raise SimulationError(
                f"the weight of {name!r} in the mix is not a number: {value!r}"
            ) from None
        if not weight >= 0 or weight == float("inf"):
            raise SimulationError(
                f"the weight of {name!r} in the mix must be a number >= 0, not {value!r}"
            )
        weights[tactic] = weight
    total = sum(weights.values())
    if total <= 0:
        raise SimulationError(
            f"the mix {text!r} gives no tactic a positive weight (tactics: {known})"
        )
    return {t: weights.get(t, 0.0) / total for t in Tactic}


def default_policy() -> Path:
    """The demo's policy, `policies/demo.yaml`."""
    return DEMO_POLICY


@dataclass(frozen=True, slots=True)
class Parameters:
    accounts: int = DEFAULT_ACCOUNTS
    days: int = DEFAULT_DAYS
    seed: int = DEFAULT_SEED
    groomers: int = DEFAULT_GROOMERS
    mix: Mapping[Tactic, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    policy: Path = field(default_factory=default_policy)
    # Teachers, coaches and youth workers are vouched for in the app's `staff_vouches`
    # (the policy's `relationships.vouched`); otherwise nobody is.
    vouched: bool = False

    def __post_init__(self) -> None:
        for name in ("accounts", "days", "seed", "groomers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise SimulationError(f"{name} must be a whole number, not {value!r}")
        if self.accounts <= 0:
            raise SimulationError(f"accounts must be positive, not {self.accounts}")
        if self.days <= 0:
            raise SimulationError(f"days must be positive, not {self.days}")
        if self.days > 365:
            raise SimulationError(f"days must be at most 365, not {self.days}")
        if self.groomers < 0:
            raise SimulationError(f"groomers must be zero or more, not {self.groomers}")
        if self.seed < 0:
            raise SimulationError(f"seed must be zero or more, not {self.seed}")
        if set(self.mix) - set(Tactic) or abs(sum(self.mix.values()) - 1) > 1e-9:
            raise SimulationError("mix must give a share to each groomer tactic, adding up to 1")
        if not Path(self.policy).is_file():
            raise SimulationError(f"policy file {str(self.policy)!r} does not exist")

    def to_json(self) -> dict[str, object]:
        return {
            "accounts": self.accounts,
            "days": self.days,
            "seed": self.seed,
            "groomers": self.groomers,
            "mix": {t.value: round(self.mix.get(t, 0.0), 4) for t in Tactic},
            "policy": _shown(Path(self.policy)),
            "vouched": self.vouched,
        }


def _shown(path: Path) -> str:
    """The policy path relative to the repository when it is in it: the same JSON on any checkout."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(REPOSITORY))
    except ValueError:
        return str(resolved)
