"""Weekly trend charts as inline SVG: no script, no external asset, readable without CSS.

Each bar carries a <title> (its week and value) for a tooltip and screen readers; the
chart as a whole has an aria-label naming what it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 520, 170
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 20, 34


def bar_chart(
    title: str, labels: Sequence[str], values: Sequence[float | None], *, unit: str = ""
) -> Markup:
    """A bar per label; None is drawn as no bar (no data), not as zero."""
    if len(labels) != len(values):
        raise ValueError("a chart needs one value per label")
    known = [v for v in values if v is not None]
    top = max(known, default=0) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(values), 1)
    bar = max(slot * 0.7, 1)
    every = max(1, len(labels) // 8)  # at most ~8 x labels
    base = TOP + plot_h
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<text x="{LEFT}" y="13" class="chart-title">{escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" class="axis"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end" class="tick">'
        f"{escape(_number(top, unit))}</text>",
        f'<text x="{LEFT - 4}" y="{base}" text-anchor="end" class="tick">0</text>',
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = LEFT + i * slot + (slot - bar) / 2
        if value is not None:
            h = plot_h * value / top
            parts.append(
                f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'class="bar"><title>{escape(label)}: {escape(_number(value, unit))}</title></rect>'
            )
        if i % every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - BOTTOM + 14}" '
                f'text-anchor="middle" class="tick">{escape(_short(label))}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(label: str) -> str:
    """An ISO date as MM-DD under a bar: the year is in the report's period."""
    return label[5:] if len(label) == 10 else label


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
