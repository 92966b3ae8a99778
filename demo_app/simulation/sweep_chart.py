"""A sweep drawn as an SVG chart: recall across, precision up, one point per setting, each
knob's settings joined in the order of its values through the policy as it is.

Hand-written SVG: a scatter of a dozen points needs axes, ticks, labels and a legend, which
is less code than a plotting library's configuration, and the file is the same to the byte
for the same sweep (no library version in it, no timestamp).
"""

from __future__ import annotations

import math
from typing import Any
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 860, 580
LEFT, RIGHT, TOP, BOTTOM = 90, 300, 70, 80  # margins around the plot area
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")
GAP = ' dx="6"'  # between two values in one label (SVG collapses spaces)
STEPS = (0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5)


def _axis_range(values: list[float]) -> tuple[float, float, float]:
    """(low, high, tick step): the values with a margin, on round ticks, within 0-100%."""
    low, high = min(values), max(values)
    margin = max((high - low) * 0.1, 0.02)
    low, high = max(0.0, low - margin), min(1.0, high + margin)
    step = next((s for s in STEPS if (high - low) / s <= 6), 0.5)
    low = math.floor(low / step + 1e-9) * step
    high = math.ceil(high / step - 1e-9) * step
    return max(0.0, low), min(1.0, high), step


def _pct(value: float) -> str:
    return f"{value * 100:.1f}".rstrip("0").rstrip(".") + "%"


def _text(x: float, y: float, body: str, **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{escape(body)}</text>'


def render_chart(sweep: dict[str, Any]) -> str:
    """The sweep (`run_sweep`'s result) as a standalone SVG document."""
    points = sweep["points"]
    drawn = [p for p in points if p["recall"] is not None and p["precision"] is not None]
    undrawn = [p for p in points if p not in drawn]
    x_low, x_high, x_step = _axis_range([p["recall"] for p in drawn] or [0.0, 1.0])
    y_low, y_high, y_step = _axis_range([p["precision"] for p in drawn] or [0.0, 1.0])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(value: float) -> float:
        return LEFT + (value - x_low) / (x_high - x_low) * plot_w

    def y_of(value: float) -> float:
        return TOP + plot_h - (value - y_low) / (y_high - y_low) * plot_h

    params = sweep["parameters"]
    seeds = params["seeds"]
    seeds_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"means of seeds {', '.join(map(str, seeds))}"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        _text(LEFT, 28, "Precision and recall of grooming alerts as each knob is scaled",
              font_size="16", font_weight="bold"),
        _text(
            LEFT,
            48,
            f"safe-accounts simulate --sweep: policy {params['policy']}, {params['accounts']} accounts,"
            f" {params['days']} days, {params['groomers']} groomers, {seeds_text}",
            fill="#444",
        ),
    ]
    # Grid, ticks and their labels.
    ticks = round((x_high - x_low) / x_step)
    for i in range(ticks + 1):
        value = x_low + i * x_step
        x = x_of(value)
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + plot_h}" stroke="#e5e5e5"/>')
        out.append(_text(x, TOP + plot_h + 18, _pct(value), text_anchor="middle"))
    ticks = round((y_high - y_low) / y_step)
    for i in range(ticks + 1):
        value = y_low + i * y_step
        y = y_of(value)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        out.append(_text(LEFT - 8, y + 4, _pct(value), text_anchor="end"))
    out.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>'
    )
    out.append(
        _text(
            LEFT + plot_w / 2,
            HEIGHT - 30,
            "recall: groomer accounts alerted, of those that contacted a child",
            text_anchor="middle",
            font_size="13",
        )
    )
    middle = TOP + plot_h / 2
    out.append(
        f'<text x="26" y="{middle:.1f}" transform="rotate(-90 26 {middle:.1f})"'
        ' text-anchor="middle" font-size="13">precision: alerted accounts that are groomers\'</text>'
    )

    # Each knob's settings joined through the policy as it is, in the order of its values.
    baseline = next((p for p in drawn if p["knob"] is None), None)
    # Settings often share a point: one label per point, each value in its knob's colour.
    labels: dict[tuple[int, int], list[tuple[str, str]]] = {}
    legend_y = TOP + 10
    for n, knob in enumerate(sweep["knobs"]):
        colour = COLOURS[n % len(COLOURS)]
        mine = [p for p in drawn if p["knob"] == knob["id"]]
        line = sorted([*mine, *([baseline] if baseline else [])], key=lambda p: p["scale"])
        if len(line) > 1:
            path = " ".join(f"{x_of(p['recall']):.1f},{y_of(p['precision']):.1f}" for p in line)
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"'
                ' stroke-opacity="0.6"/>'
            )
        for p in mine:
            x, y = x_of(p["recall"]), y_of(p["precision"])
            out.append(
                f'<circle class="point" data-knob="{escape(knob["id"])}" data-value="{p["value"]:g}"'
                f' cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colour}">'
                f"<title>{escape(_describe(p))}</title></circle>"
            )
            spot = (round(x), round(y))
            labels.setdefault(spot, []).append((colour, f"{p['value']:g}"))
        out.append(f'<circle cx="{LEFT + plot_w + 24}" cy="{legend_y}" r="5" fill="{colour}"/>')
        out.append(_text(LEFT + plot_w + 34, legend_y + 4, knob["id"]))
        out.append(
            _text(
                LEFT + plot_w + 34,
                legend_y + 19,
                f"{knob['kind']}: policy {knob['value']:g}; labels give the value",
                fill="#555",
                font_size="11",
            )
        )
        legend_y += 42
    if baseline is not None:
        x, y = x_of(baseline["recall"]), y_of(baseline["precision"])
        out.append(
            f'<circle class="point" data-knob="" cx="{x:.1f}" cy="{y:.1f}" r="7" fill="black">'
            f"<title>{escape(_describe(baseline))}</title></circle>"
        )
        out.append(_text(x - 9, y + 18, "policy as it is", font_weight="bold", text_anchor="end"))
    out += _labels(labels, LEFT + plot_w / 2, reserved=[] if baseline is None else [
        (x_of(baseline["recall"]) - 100, x_of(baseline["recall"]) - 9, y_of(baseline["precision"]) + 18)
    ])
    out.append(f'<circle cx="{LEFT + plot_w + 24}" cy="{legend_y}" r="7" fill="black"/>')
    out.append(_text(LEFT + plot_w + 34, legend_y + 4, "the policy as it is (every knob x1)"))
    legend_y += 30
    for p in undrawn:
        out.append(
            _text(LEFT + plot_w + 16, legend_y, f"not drawn, no alert: {p['knob']} = {p['value']:g}",
                  fill="#a00", font_size="11")
        )
        legend_y += 16
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _labels(
    labels: dict[tuple[int, int], list[tuple[str, str]]],
    middle: float,
    reserved: list[tuple[float, float, float]],
) -> list[str]:
    """One label by each point that has settings: the values, each in its knob's colour;
    leftwards of points right of `middle` (away from the legend); above a point, or below
    one near the top of the plot, moved a line further while it would cover a label placed
    before it."""
    out: list[str] = []
    placed = list(reserved)  # (left, right, baseline y) of each label, the baseline's first
    for (x, y), values in sorted(labels.items()):
        width = sum(6.5 * len(v) for _, v in values) + 6 * (len(values) - 1)
        leftwards = x > middle
        left = x - 8 - width if leftwards else x + 8
        below = y < TOP + 40
        line, step = (y + 18.0, 13.0) if below else (y - 7.0, -13.0)
        while any(left < r and left + width > lft and abs(line - ly) < 13 for lft, r, ly in placed):
            line += step
        placed.append((left, left + width, line))
        spans = "".join(
            f'<tspan{GAP if i else ""} fill="{c}">{escape(v)}</tspan>' for i, (c, v) in enumerate(values)
        )
        out.append(f'<text x="{left:.1f}" y="{line:.1f}" font-size="11">{spans}</text>')
    return out


def _describe(point: dict[str, Any]) -> str:
    name = "the policy as it is" if point["knob"] is None else f"{point['knob']} = {point['value']:g}"
    parts = [
        f"recall {_pct(point['recall'])}",
        f"precision {_pct(point['precision'])}",
        f"false alerts {point['false_alerts_per_1000_benign_adults']} per 1,000 benign adults",
        f"children reached before the alert {point['children_reached_before_alert']}",
    ]
    return f"{name}: " + ", ".join(parts)


__all__ = ["render_chart"]
