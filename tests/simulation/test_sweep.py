"""`simulate --sweep`: the policy's knobs scaled, one world per setting, precision against
recall drawn as an SVG chart with one point per setting."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from demo_app.simulation import SimulationError, default_policy, parse_scales, render_chart
from demo_app.simulation.sweep import Knob, KnobKind, find_knobs, settings
from tests.conftest import Ran

Cli = Callable[..., Ran]
SVG = "{http://www.w3.org/2000/svg}"


def _points(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [c for c in root.iter(f"{SVG}circle") if c.get("class") == "point"]


def test_the_baselines_main_knobs_are_found_with_the_values_the_policy_gives() -> None:
    knobs = find_knobs(
        default_policy(),
        ["scattered-rejections-by-minors", "early-rejections-from-minors", "stranger-request-cap"],
    )
    assert [(k.kind, k.value) for k in knobs] == [
        (KnobKind.COUNT, 2.0),
        (KnobKind.RATE, 0.6),
        (KnobKind.CAP, 5.0),
    ]
    # A capped rule's override keeps the rest of its `when` (a `when:` is replaced whole).
    cap = knobs[2].override(8)["rules"][0]
    assert cap["when"]["actor_count"] == {"signal": "unconnected-minors-requested", "min": 8}
    assert cap["when"]["connected"] is False


@pytest.mark.parametrize(
    "knob", ["no-such-signal", "unconnected-minors-requested", "requests-to-unconnected-minors"]
)
def test_a_knob_that_is_not_an_enabled_alerting_signal_or_cap_is_refused(knob: str) -> None:
    # The second counts for the cap but never alerts; the third is disabled in the baseline.
    with pytest.raises(SimulationError, match=f"knob '{knob}' is not an enabled alerting signal"):
        find_knobs(default_policy(), [knob])


def test_scales_that_give_one_value_run_once_and_rates_stay_shares() -> None:
    count = Knob("c", KnobKind.COUNT, 2.0)
    rate = Knob("r", KnobKind.RATE, 0.6)
    found = settings([count, rate], [0.5, 0.75, 1.0, 2.0])
    assert [(s.knob and s.knob.id, s.value) for s in found] == [
        (None, None),
        ("c", 1.0),  # 0.75 rounds to the policy's own 2: not run again
        ("c", 4.0),
        ("r", 0.3),
        ("r", 0.45),
        ("r", 1.0),  # 1.2 is no share
    ]


@pytest.mark.parametrize(("text", "message"), [("0,1", "positive"), ("a", "not a number"), (",", "no scale")])
def test_bad_scales_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(SimulationError, match=message):
        parse_scales(text)


def test_a_setting_with_no_alert_is_named_on_the_chart_instead_of_drawn() -> None:
    point = {
        "knob": "k", "kind": "count", "scale": 2.0, "value": 9.0, "policy_value": 2.0,
        "false_alerts_per_1000_benign_adults": 0.0, "children_reached_before_alert": 3.0,
        "hours_first_contact_to_alert_median": None,
    }
    sweep = {
        "parameters": {"policy": "p.yaml", "accounts": 10, "days": 1, "groomers": 1, "seeds": [1]},
        "knobs": [{"id": "k", "kind": "count", "value": 2.0}],
        "points": [
            {**point, "knob": None, "scale": 1.0, "value": None, "recall": 0.5, "precision": 1.0},
            {**point, "recall": 0.0, "precision": None},
        ],
    }
    svg = render_chart(sweep)
    assert len(_points(svg)) == 1
    assert "not drawn, no alert: k = 9" in svg


@pytest.mark.slow
def test_a_tiny_sweep_draws_one_point_per_setting(cli: Cli, tmp_path: Path) -> None:
    chart, out = tmp_path / "sweep.svg", tmp_path / "sweep.json"
    ran = cli(
        "simulate", "--sweep", "--accounts", "150", "--days", "2", "--groomers", "4",
        "--mix", "aggressive=1", "--knobs", "scattered-rejections-by-minors,stranger-request-cap",
        "--scales", "0.5,2", "--chart", str(chart), "--out", str(out),
    )
    assert ran.code == 0, ran.err
    data = json.loads(out.read_text())
    # The policy as it is, and each knob at half and twice its value.
    assert [(p["knob"], p["value"]) for p in data["points"]] == [
        (None, None),
        ("scattered-rejections-by-minors", 1.0),
        ("scattered-rejections-by-minors", 4.0),
        ("stranger-request-cap", 3.0),
        ("stranger-request-cap", 10.0),
    ]
    assert all(p["precision"] is not None for p in data["points"]), "every setting alerted"
    points = _points(chart.read_text())
    assert len(points) == len(data["points"])
    assert sorted((c.get("data-knob"), c.get("data-value")) for c in points) == sorted(
        ("" if p["knob"] is None else p["knob"], None if p["value"] is None else f"{p['value']:g}")
        for p in data["points"]
    )
    assert "recall" in chart.read_text() and "precision" in chart.read_text()
    assert "stranger-request-cap = 10" in ran.out


def test_sweep_options_without_sweep_are_refused(cli: Cli) -> None:
    ran = cli("simulate", "--chart", "x.svg")
    assert ran.code != 0 and "--chart, --knobs and --scales go with --sweep" in ran.err


def test_an_unknown_knob_is_refused_before_anything_runs(cli: Cli, tmp_path: Path) -> None:
    ran = cli("simulate", "--sweep", "--knobs", "nope", "--chart", str(tmp_path / "c.svg"))
    assert ran.code == 2 and "knob 'nope'" in ran.err
    assert not (tmp_path / "c.svg").exists()
