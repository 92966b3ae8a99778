"""`python -m bench [NAME...]`: run every `bench/bench_*.py` (or those named) and write
their figures into docs/benchmarks.md.

Each module exposes `run() -> list[Row]`. A module that fails is reported and the
others still run; the exit code is then 1.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path

from ._report import DOC, Row, machine, render, rewrite

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main(argv: list[str]) -> int:
    names = [a.removeprefix("bench_").removesuffix(".py") for a in argv] or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(
            f"no such benchmark: {', '.join(unknown)} (have: {', '.join(available())})",
            file=sys.stderr,
        )
        return 2
    sections: dict[str, list[Row]] = {}
    failed = False
    for name in names:
        print(f"== {name}", flush=True)
        try:
            rows = importlib.import_module(f"bench.bench_{name}").run()
        except Exception:  # noqa: BLE001 - one broken benchmark must not hide the others
            traceback.print_exc()
            failed = True
            continue
        for row in rows:
            sections.setdefault(row.section, []).append(row)
    measured_on = machine()
    for section, rows in sections.items():
        print(f"\n## {section}\n\n{render(rows, measured_on)}")
    if sections:
        rewrite(sections, DOC, measured_on)
        print(f"\nwritten to {DOC}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
