"""Benchmark results as rows, and their place in docs/benchmarks.md.

Each section of the document lives between `<!-- bench:SECTION -->` and
`<!-- /bench:SECTION -->`; a run rewrites only the sections it measured, so figures
from other benchmarks (and the prose around them) stay as they are.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


@dataclass(frozen=True, slots=True)
class Row:
    """One measured figure. `met` is None when there is no target to meet."""

    section: str
    what: str
    figure: str
    target: str = ""
    met: bool | None = None


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    return (
        f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}"
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(rows: list[Row], measured_on: str) -> str:
    verdict = {True: "yes", False: "**no**", None: ""}
    lines = [
        "| what | figure | target | met |",
        "| --- | --- | --- | --- |",
        *(
            f"| {_cell(r.what)} | {_cell(r.figure)} | {_cell(r.target)} | {verdict[r.met]} |"
            for r in rows
        ),
        "",
        f"Measured on: {measured_on}.",
    ]
    return "\n".join(lines)


def rewrite(
    sections: dict[str, list[Row]], doc: Path = DOC, measured_on: str | None = None
) -> None:
    """Replace each section's block in `doc` (appending a new section at the end)."""
    measured_on = measured_on or machine()
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    for section, rows in sections.items():
        block = f"<!-- bench:{section} -->\n{render(rows, measured_on)}\n<!-- /bench:{section} -->"
        pattern = re.compile(
            rf"<!-- bench:{re.escape(section)} -->.*?<!-- /bench:{re.escape(section)} -->",
            re.DOTALL,
        )
        if pattern.search(text):
            text = pattern.sub(lambda _m, block=block: block, text, count=1)
        else:
            text = f"{text.rstrip()}\n\n## {section}\n\n{block}\n"
    doc.write_text(text)
