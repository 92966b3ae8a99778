"""Several seeds of one world, side by side: each seed's headline figures and their spread.

One seed is one draw of the population and its behaviour; a threshold that looks right on
one seed may be luck. The summary puts every seed's figures in a row and gives each
column's mean, lowest and highest, so a change is judged on the population model, not on
one draw of it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

from .outcome import Outcome

# The headline figures, as (name, how to read it from an outcome's data).
FIGURES: tuple[tuple[str, Callable[[dict[str, Any]], float | None]], ...] = (
    ("recall", lambda d: d["detection"]["recall"]),
    ("precision", lambda d: d["detection"]["precision"]),
    ("false_alerts_per_1000_benign_adults", lambda d: d["false_alerts"]["per_1000"]),
    ("false_alerts", lambda d: d["false_alerts"]["ordinary_adults"]),
    (
        "hours_first_contact_to_alert_median",
        lambda d: d["detection"]["hours_from_first_contact_to_alert"]["median"],
    ),
    (
        "children_contacted_before_alert_median",
        lambda d: d["detection"]["children_contacted_before_alert"]["median"],
    ),
    (
        "children_reached_before_alert",
        lambda d: d["detection"]["children_reached_before_alert"]["total"],
    ),
    ("alerts_per_alerted_account", lambda d: d["alerts"]["per_alerted_account"]),
    (
        "crossings_per_alerted_account",
        lambda d: d["alerts"].get("crossings_per_alerted_account"),
    ),
    (
        "benign_requests_refused",
        lambda d: sum(
            n for role, n in d["friction"]["requests_refused_by_role"].items() if role != "groomer"
        ),
    ),
)


def _spread(values: Sequence[float | None]) -> dict[str, float | None]:
    known = [float(v) for v in values if v is not None]
    if not known:
        return {"mean": None, "min": None, "max": None}
    return {
        "mean": round(statistics.fmean(known), 4),
        "min": round(min(known), 4),
        "max": round(max(known), 4),
    }


def summarise(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Per seed, the headline figures and false alerts per role; then each figure's spread."""
    rows = []
    for outcome in outcomes:
        d = outcome.data
        row: dict[str, Any] = {"seed": d["parameters"]["seed"]}
        row.update({name: read(d) for name, read in FIGURES})
        row["false_alerts_by_role"] = {
            role: figures["alerted"] for role, figures in d["false_alerts"]["per_role"].items()
        }
        row["benign_adults_by_role"] = {
            role: figures["of"] for role, figures in d["false_alerts"]["per_role"].items()
        }
        row["signals"] = {
            signal: {"raised": hits["groomer"] + hits["benign"], **hits}
            for signal, hits in d["alerts"]["contribution"].items()
        }
        row["recall_by_tactic"] = {
            tactic: t["recall"]
            for tactic, t in d["detection"]["by_tactic"].items()
            if t["accounts"]
        }
        rows.append(row)
    roles = sorted({r for row in rows for r in row["false_alerts_by_role"]})
    per_role = {}
    for role in roles:
        alerted = sum(row["false_alerts_by_role"].get(role, 0) for row in rows)
        of = sum(row["benign_adults_by_role"].get(role, 0) for row in rows)
        per_role[role] = {
            "alerted": alerted,
            "of": of,
            "per_1000": round(1000 * alerted / of, 2) if of else None,
        }
    contribution: dict[str, dict[str, int]] = {}
    for row in rows:
        for signal, hits in row["signals"].items():
            pooled = contribution.setdefault(signal, dict.fromkeys(hits, 0))
            for key, n in hits.items():
                pooled[key] = pooled.get(key, 0) + n
    first = outcomes[0].data if outcomes else {}
    return {
        "policy": first.get("policy"),
        "parameters": {k: v for k, v in first.get("parameters", {}).items() if k != "seed"},
        "seeds": rows,
        "spread": {name: _spread([row[name] for row in rows]) for name, _ in FIGURES},
        # All seeds pooled: the rate per role is too rare an event for one seed to show.
        "false_alerts_per_role_pooled": per_role,
        # Each signal's alerts over all seeds: raised (it crossed first) on groomers' and
        # benign accounts, and open alerts its later crossings joined.
        "signals_pooled": dict(sorted(contribution.items())),
    }


def _cell(value: float | None, name: str) -> str:
    if value is None:
        return "n/a"
    if name in ("recall", "precision"):
        return f"{value * 100:.1f}%"
    return f"{value:g}"


_SHORT = {
    "recall": "recall",
    "precision": "precision",
    "false_alerts_per_1000_benign_adults": "FA/1000",
    "false_alerts": "FA",
    "hours_first_contact_to_alert_median": "h to alert",
    "children_contacted_before_alert_median": "contacted",
    "children_reached_before_alert": "reached",
    "alerts_per_alerted_account": "alerts/acct",
    "crossings_per_alerted_account": "cross/acct",
    "benign_requests_refused": "refused",
}


VOUCHED = ", teachers, coaches and youth workers vouched for"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in counts.items() if n)


def render_summary(summary: dict[str, Any]) -> str:
    names = [name for name, _ in FIGURES]
    policy = summary["policy"] or {}
    lines = [
        (
            f"Across {len(summary['seeds'])} seeds, policy {policy.get('name')}"
            f" ({summary['parameters'].get('policy')})"
            + (VOUCHED if summary["parameters"].get("vouched") else "")
        ),
        "  " + f"{'seed':<6}" + "".join(f"{_SHORT[n]:>12}" for n in names),
    ]
    for row in summary["seeds"]:
        lines.append("  " + f"{row['seed']:<6}" + "".join(f"{_cell(row[n], n):>12}" for n in names))
    for stat in ("mean", "min", "max"):
        lines.append(
            "  "
            + f"{stat:<6}"
            + "".join(f"{_cell(summary['spread'][n][stat], n):>12}" for n in names)
        )
    lines.append("")
    lines.append("  false alerts per role, all seeds pooled")
    for role, figures in summary["false_alerts_per_role_pooled"].items():
        lines.append(
            f"    {role:<18} {figures['alerted']:>4} of {figures['of']:<6}"
            f" ({figures['per_1000']} per 1,000)"
        )
    lines.append("")
    lines.append("  false alerts per role, per seed")
    for row in summary["seeds"]:
        alerted = _counts(row["false_alerts_by_role"]) or "none"
        lines.append(f"    seed {row['seed']:<4} {alerted}")
    lines.append("")
    lines.append("  each signal's alerts, all seeds pooled (raised: the first to cross)")
    lines.append(
        f"    {'signal':<40} {'raised':>6} {'groomer':>8} {'benign':>7}"
        f" {'joined: groomer':>16} {'benign':>7}"
    )
    for signal, hits in summary["signals_pooled"].items():
        lines.append(
            f"    {signal:<40} {hits['raised']:>6} {hits['groomer']:>8} {hits['benign']:>7}"
            f" {hits['joined_groomer']:>16} {hits['joined_benign']:>7}"
        )
    lines.append("")
    lines.append(
        "  FA: false alerts on benign adults; h to alert, contacted: medians per alerted groomer"
        " account; reached: children who accepted a groomer before its alert, all accounts;"
        " cross/acct: crossings per alerted account, those that joined an open alert included;"
        " refused: benign people's friend requests refused (a cap), resent ones included"
    )
    return "\n".join(lines)


__all__ = ["FIGURES", "render_summary", "summarise"]
