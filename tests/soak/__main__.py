"""`python -m tests.soak [--seconds 60] [--clients 300] [--think 0.3] [--write-doc docs/reliability.md]`"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
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
    parser.add_argument("--write-doc", type=Path, help=f"replace the text between {BEGIN} and {END} in this file")
    args = parser.parse_args()
    if args.seconds <= 0 or args.clients <= 0 or args.workers <= 0 or args.think < 0:
        parser.error("--seconds, --clients and --workers must be positive, --think not negative")
    options = Options(seconds=args.seconds, clients=args.clients, workers=args.workers, think=args.think)
    passed, report = asyncio.run(soak(options))
    stamped = f"Last run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n{report}"
    print(stamped)
    if args.write_doc is not None:
        text = args.write_doc.read_text()
        if BEGIN not in text or END not in text:
            print(f"{args.write_doc}: no {BEGIN} ... {END} section to replace", file=sys.stderr)
            return 2
        text = re.sub(f"{re.escape(BEGIN)}.*?{re.escape(END)}", lambda _: f"{BEGIN}\n{stamped}\n{END}", text, flags=re.S)
        args.write_doc.write_text(text)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
