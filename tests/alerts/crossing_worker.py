"""One "worker process" for the two-process exactly-once test.

    python crossing_worker.py REDIS_URL|none PREFIX DATABASE_URL START_AT NAME [baseline|fold-race]

Waits until START_AT (wall clock) so that both processes fire together, then records
reports against one account, one event per batch (one script call each), and prints what
it saw as JSON: the crossings its store handed it and the alerts it managed to store.
With `baseline`, the signals are the shipped baseline's (policies/baseline.yaml) and each
step is a contact request to a child outside the requester's circle followed by that
child's rejection.

With `fold-race`, no signal store: the two processes raise crossings of different
signals for the same accounts, one account per tick of RACE_TICK seconds, so that both
look for the account's open alert (and find none) at the same instant.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

# Run as a script: its own folder is on sys.path, not the tests package.
from crossings import crossing  # type: ignore[import-not-found]

from safe_accounts.alerts import AlertService
from safe_accounts.bands.age import AgeBand
from safe_accounts.db.engine import make_engine
from safe_accounts.policy.loader import load_policy
from safe_accounts.policy.model import EventKind, Signals
from safe_accounts.signals import Event, SignalRecorder, signal_store_for

BASELINE_FILE = Path(__file__).resolve().parents[2] / "policies" / "baseline.yaml"

SIGNALS = Signals.model_validate(
    {
        "counts": [
            {
                "id": "reported-by-minors",
                "event": "reported",
                "where": {"other_band": ["minor"]},
                "window": "30d",
                "threshold": 5,
                "reason": "reported by minors",
            }
        ]
    }
)
EVENTS = 20
AT = 1_800_000_000.0
RACE_ACCOUNTS = 40
RACE_TICK = 0.05
RACE_SIGNALS = {"first": "rejected-by-minors", "second": "blocked-by-minors"}


async def fold_race(database_url: str, start_at: float, name: str) -> None:
    engine = make_engine(database_url)
    service = AlertService(engine, policy_version="test")
    alerts: list[str] = []
    try:
        for i in range(RACE_ACCOUNTS):
            await asyncio.sleep(max(0.0, start_at + i * RACE_TICK - time.time()))
            alert = await service.raise_alert(crossing(f"adult-{i}", RACE_SIGNALS[name]))
            if alert is not None:
                alerts.append(alert.id)
    finally:
        await engine.dispose()
    print(json.dumps({"accounts": RACE_ACCOUNTS, "alerts": alerts}))


async def main(
    redis_url: str, prefix: str, database_url: str, start_at: float, name: str, baseline: bool = False
) -> None:
    engine = make_engine(database_url)
    service = AlertService(engine, policy_version="test")
    crossings: list[str] = []
    signals: list[str] = []
    alerts: list[str] = []

    async def on_crossing(crossing) -> None:  # type: ignore[no-untyped-def]
        crossings.append(crossing.window_key)
        signals.append(crossing.signal)
        alert = await service.raise_alert(crossing)
        if alert is not None:
            alerts.append(alert.id)

    store = signal_store_for(None if redis_url == "none" else redis_url, prefix=prefix)
    policy_signals = load_policy(BASELINE_FILE).policy.signals if baseline else SIGNALS
    recorder = SignalRecorder(store, policy_signals, on_crossing=on_crossing, batch_size=1)
    await store.start()
    await asyncio.sleep(max(0.0, start_at - time.time()))
    for i in range(EVENTS):
        child = f"{name}-child-{i}"
        if baseline:
            # From an account that says it is a teen, to children outside its circle: the
            # network-context signals count them too.
            recorder.submit(
                Event(
                    EventKind.CONTACT_REQUEST, "adult-1", child, AgeBand.B13_15, 3, AT + i,
                    ties=0, subject_band=AgeBand.B13_15,
                )
            )
            await recorder.flush()
            recorder.submit(Event(EventKind.CONTACT_REJECTED, "adult-1", child, AgeBand.B13_15, 3, AT + i, ties=0))
        else:
            recorder.submit(Event(EventKind.REPORTED, "adult-1", child, AgeBand.B13_15, 0, AT + i))
        await recorder.flush()
    await recorder.close()
    await engine.dispose()
    print(json.dumps({"crossings": crossings, "signals": signals, "alerts": alerts, "health": recorder.health()}))


if __name__ == "__main__":
    url, prefix, database, start, name = sys.argv[1:6]
    if sys.argv[6:7] == ["fold-race"]:
        asyncio.run(fold_race(database, float(start), name))
    else:
        asyncio.run(main(url, prefix, database, float(start), name, sys.argv[6:7] == ["baseline"]))
