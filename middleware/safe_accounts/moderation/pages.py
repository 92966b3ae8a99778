"""The moderation app's HTML: autoescaped Jinja templates shipped in the package.

One environment for the app and for `report transparency --format html`, built once at
import. Figures never contain message text; whatever comes from storage is escaped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from .charts import duration

TEMPLATES = Path(__file__).parent / "templates"


def when(at: float | None) -> str:
    if at is None:
        return "-"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def age(seconds: float) -> str:
    return duration(max(seconds, 0))


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,  # a misspelt name is a bug, never an empty cell
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["when"] = when
environment.filters["duration"] = duration
environment.filters["age"] = age


def render(name: str, **context: Any) -> str:
    return environment.get_template(name).render(**context)
