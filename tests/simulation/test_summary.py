"""Several seeds side by side: each seed's figures in a row, their spread, and what is
pooled over the seeds (false alerts per role, each signal's alerts)."""

from __future__ import annotations

from typing import Any

from demo_app.simulation import render_summary, summarise
from demo_app.simulation.outcome import Outcome


def _outcome(seed: int, recall: float, coaches_alerted: int, signals: dict[str, Any]) -> Outcome:
    """The part of a run's figures the summary reads."""
    return Outcome(
        {
            "parameters": {"seed": seed, "accounts": 100, "policy": "policies/demo.yaml"},
            "policy": {"name": "demo", "version": "v"},
            "detection": {
                "recall": recall,
                "precision": 1.0,
                "hours_from_first_contact_to_alert": {"median": 10.0 * seed},
                "children_contacted_before_alert": {"median": 3.0},
                "children_reached_before_alert": {"total": seed},
                "by_tactic": {"slow": {"accounts": 2, "recall": recall}},
            },
            "false_alerts": {
                "per_1000": 0.0,
                "ordinary_adults": coaches_alerted,
                "per_role": {
                    "coach": {"alerted": coaches_alerted, "of": 10},
                    "parent": {"alerted": 0, "of": 40},
                },
            },
            "alerts": {
                "per_alerted_account": 1.0,
                "crossings_per_alerted_account": 2.5,
                "contribution": signals,
            },
            "friction": {"requests_refused_by_role": {"groomer": 4, "coach": seed}},
        }
    )


def _hits(groomer: int, benign: int, joined: int = 0) -> dict[str, int]:
    return {"groomer": groomer, "benign": benign, "joined_groomer": joined, "joined_benign": 0}


SEEDS = [
    _outcome(1, 0.9, 1, {"scattered": _hits(3, 1, joined=2), "early": _hits(1, 0)}),
    _outcome(2, 1.0, 0, {"scattered": _hits(4, 0), "blocked": _hits(0, 0, joined=1)}),
]


def test_each_seed_is_a_row_and_each_figure_has_its_mean_lowest_and_highest() -> None:
    summary = summarise(SEEDS)
    assert [row["seed"] for row in summary["seeds"]] == [1, 2]
    assert summary["spread"]["recall"] == {"mean": 0.95, "min": 0.9, "max": 1.0}
    assert summary["spread"]["hours_first_contact_to_alert_median"]["max"] == 20.0
    assert summary["spread"]["crossings_per_alerted_account"]["mean"] == 2.5
    assert summary["spread"]["benign_requests_refused"] == {"mean": 1.5, "min": 1.0, "max": 2.0}


def test_false_alerts_per_role_are_given_per_seed_and_pooled() -> None:
    summary = summarise(SEEDS)
    assert [row["false_alerts_by_role"]["coach"] for row in summary["seeds"]] == [1, 0]
    assert summary["false_alerts_per_role_pooled"]["coach"] == {
        "alerted": 1,
        "of": 20,
        "per_1000": 50.0,
    }
    text = render_summary(summary)
    assert "seed 1    1 coach" in text and "seed 2    none" in text


def test_each_signals_alerts_are_given_per_seed_and_pooled_over_the_seeds() -> None:
    summary = summarise(SEEDS)
    assert summary["seeds"][0]["signals"]["scattered"]["raised"] == 4
    pooled = summary["signals_pooled"]
    assert pooled["scattered"] == {
        "raised": 8,
        "groomer": 7,
        "benign": 1,
        "joined_groomer": 2,
        "joined_benign": 0,
    }
    assert pooled["early"]["raised"] == 1
    # A signal that only joined open alerts raised none of its own.
    assert pooled["blocked"] == {
        "raised": 0,
        "groomer": 0,
        "benign": 0,
        "joined_groomer": 1,
        "joined_benign": 0,
    }
    text = render_summary(summary)
    assert "each signal's alerts" in text and "scattered" in text
