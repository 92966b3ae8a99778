"""`python -m tests.soak [--seconds 60] [--clients 300] [--think 0.3] [--rate 1] [--ramp 5] [--runs 1]
[--write-doc FILE]`

Exits 0 when every run passed every check, 1 when one failed (docs/reliability.md, "The soak gate").
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from .run import Options, soak

BEGIN, END = "<!-- soak:begin -->", "<!-- soak:end -->"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__)
    parser.add_argument("--seconds", type=float, default=Options.seconds, help="how long the load runs")
    parser.add_argument("--clients", type=int, default=Options.clients, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=Options.workers, help="uvicorn workers")
    parser.add_argument("--think", type=float, default=Options.think,
                        help="mean pause between one client's requests, seconds (0: as fast as it can)")
    parser.add_argument("--rate", type=float, default=Options.rate,
                        help="load multiplier: each client pauses think/rate (2: twice the request rate)")
    parser.add_argument("--ramp", type=float, default=Options.ramp,
                        help="seconds over which the clients arrive (0.3: all at once, a cold start under full load)")
    parser.add_argument("--runs", type=int, default=1, help="runs in a row; the gate passes when all pass")
    parser.add_argument("--write-doc", type=Path, help=f"replace the text between {BEGIN} and {END} in this file")
    args = parser.parse_args()
    if args.seconds <= 0 or args.clients <= 0 or args.workers <= 0 or args.runs <= 0:
        parser.error("--seconds, --clients, --workers and --runs must be positive")
    if args.think < 0 or args.rate <= 0 or args.ramp < 0:
        parser.error("--think and --ramp must not be negative, --rate must be positive")
    options = Options(seconds=args.seconds, clients=args.clients, workers=args.workers, think=args.think,
                      rate=args.rate, ramp=args.ramp)
    reports, results = [], []
    for run in range(1, args.runs + 1):
        passed, report = asyncio.run(soak(replace(options, seed=options.seed + run - 1)))
        heading = f"Run {run} of {args.runs}, " if args.runs > 1 else ""
        stamped = f"{heading}{datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n{report}"
        print(stamped + "\n", flush=True)
        reports.append(stamped)
        results.append(passed)
    if args.runs > 1:
        print(f"{sum(results)} of {args.runs} runs passed: gate {'PASSED' if all(results) else 'FAILED'}")
    if args.write_doc is not None:
        text = args.write_doc.read_text()
        if BEGIN not in text or END not in text:
            print(f"{args.write_doc}: no {BEGIN} ... {END} section to replace", file=sys.stderr)
            return 2
        body = "\n\n".join(reports)
        text = re.sub(f"{re.escape(BEGIN)}.*?{re.escape(END)}", lambda _: f"{BEGIN}\n{body}\n{END}", text, flags=re.S)
        args.write_doc.write_text(text)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
