"""Weekly trend charts as inline SVG: no script, no external asset, readable without CSS.

Each chart has a title, a y axis with its quantity and round-numbered gridlines, an x axis
of weeks labelled by their Monday ("5 Jan", with the year where it starts or changes) and
titled as such, and each bar's value written above it when there is room. Each bar also
carries a <title> (its week and value) for a tooltip and screen readers; the chart as a
whole has an aria-label naming what it shows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 560, 250
LEFT, RIGHT, TOP, BOTTOM = 64, 10, 30, 52
X_TITLE = "Week starting (Monday, UTC)"


def bar_chart(
    title: str,
    labels: Sequence[date | str],
    values: Sequence[float | None],
    *,
    unit: str = "",
    y_label: str = "",
) -> Markup:
    """A bar per week; None is drawn as no bar (no data), not as zero."""
    if len(labels) != len(values):
        raise ValueError("a chart needs one value per label")
    known = [v for v in values if v is not None]
    ticks = _ticks(max(known, default=0), unit)
    top = ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(values), 1)
    bar = max(slot * 0.7, 1)
    every = max(1, math.ceil(len(labels) / 8))  # at most 8 week labels
    base = TOP + plot_h
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<text x="{LEFT}" y="16" class="chart-title">{escape(title)}</text>',
    ]
    for tick in ticks:
        y = base - plot_h * tick / top
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
            f'class="{"axis" if tick == 0 else "grid"}"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 3.5:.1f}" text-anchor="end" class="tick">'
            f"{escape(_number(tick, unit))}</text>"
        )
    if y_label:
        middle = TOP + plot_h / 2
        parts.append(
            f'<text x="14" y="{middle:.1f}" text-anchor="middle" class="axis-title" '
            f'transform="rotate(-90 14 {middle:.1f})">{escape(y_label)}</text>'
        )
    shown_year: int | None = None
    room_for_values = slot >= 22
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = LEFT + i * slot + (slot - bar) / 2
        name = label.isoformat() if isinstance(label, date) else label
        if value is not None:
            h = plot_h * value / top
            parts.append(
                f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'class="bar"><title>week of {escape(name)}: {escape(_number(value, unit))}</title></rect>'
            )
            if room_for_values and value:
                parts.append(
                    f'<text x="{x + bar / 2:.1f}" y="{base - h - 3:.1f}" text-anchor="middle" '
                    f'class="value">{escape(_number(value, unit))}</text>'
                )
        if i % every == 0:
            text, shown_year = _week_label(label, shown_year)
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{base + 15}" text-anchor="middle" class="tick">'
                f"{escape(text)}</text>"
            )
    parts.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle" '
        f'class="axis-title">{X_TITLE}</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def _week_label(label: date | str, shown_year: int | None) -> tuple[str, int | None]:
    """`5 Jan`, with the year on the first label and wherever it changes."""
    if not isinstance(label, date):
        try:
            label = date.fromisoformat(label)
        except ValueError:
            return str(label), shown_year
    text = f"{label.day} {label.strftime('%b')}"
    if label.year != shown_year:
        text += f" {label.year}"
    return text, label.year


def _ticks(highest: float, unit: str) -> list[float]:
    """Gridline values from 0 to a round top at or above `highest`: 3 to 5 of them."""
    if highest <= 0:
        return [0, 1]
    if unit == "duration":
        steps = [60, 300, 600, 1800, 3600, 2 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400]
        step = next((s for s in steps if highest / s <= 4), 7 * 86400 * math.ceil(highest / (4 * 7 * 86400)))
    else:
        magnitude = 10 ** math.floor(math.log10(highest / 4)) if highest >= 4 else 1
        step = next(m * magnitude for m in (1, 2, 5, 10) if highest / (m * magnitude) <= 4)
    count = max(1, math.ceil(highest / step))
    return [step * i for i in range(count + 1)]


def _number(value: float, unit: str) -> str:
    if unit == "duration":
        return duration(value)
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{text}{unit}"


def duration(seconds: float | None) -> str:
    """A response time for people: 45 s, 12 min, 3.5 h, 2.1 days."""
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
