"""How much a SIGKILL loses: `python -m tests.soak.kill_window [trials]`.

Each trial serves the wrapped host app in one uvicorn worker on a database of its own,
sends 300 stranger DMs to children 16 at a time (each answered 403 with a decision id),
SIGKILLs the worker the moment the last answer arrives, and counts the answered refusals
that are not in the decision log. The loss over the answer rate is the window.

A refusal's row is written before it is answered (`pipeline/records.py`, `judged`), so the
loss should be 0; the rows a worker answered before it could write them (the database
failed or overran the time budget) are what it logs as `answered before they were
written`, counted here from its log: only those may be lost.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from safe_accounts.db.engine import make_engine
from tests.conftest import PG_HOST, PG_PORT, PG_USER, REDIS_URL
from tests.hardening.server_process import ServerProcess
from tests.hardening.support import decision_ids
from tests.hardening.test_worker_killed import _prepare, _refusals
from tests.middleware.conftest import PRODUCTION_POLICY as POLICY

from .run import _drop_keys, _pg

UNWRITTEN = re.compile(r"decision-log: (\d+) rows answered before they were written")


async def trial(work: Path) -> tuple[int, int, float, int]:
    """(answered, lost, answers per second, rows the worker logged as answered unwritten)."""
    database = f"sa_kill_{uuid.uuid4().hex[:10]}"
    prefix = f"kill:{uuid.uuid4().hex[:10]}:"
    url = f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"
    await _pg(f'CREATE DATABASE "{database}"')
    server = None
    try:
        await _prepare(url)
        policy = work / "policy.yaml"
        policy.write_text(POLICY)
        server = ServerProcess(
            {"SA_SERVED_DATABASE_URL": url, "SA_SERVED_POLICY": str(policy), "SA_SERVED_REDIS_URL": REDIS_URL,
             "SA_SERVED_PREFIX": prefix},
            work / f"{database}.log",
        )
        server.start()
        async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
            started = time.perf_counter()
            answered = await _refusals(client, server, 300)
            rate = len(answered) / (time.perf_counter() - started)
        server.kill()
        server = None
        engine = make_engine(url)
        try:
            durable = await decision_ids(engine)
        finally:
            await engine.dispose()
        log = (work / f"{database}.log").read_text(errors="replace")
        unwritten = sum(int(n) for n in UNWRITTEN.findall(log))
        return len(answered), len(set(answered) - durable), rate, unwritten
    finally:
        if server is not None:
            server.stop()
        await _drop_keys(prefix)
        await _pg(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def main(trials: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="sa-kill-"))
    try:
        for i in range(trials):
            answered, lost, rate, unwritten = await trial(work)
            print(f"trial {i + 1}: {answered} refusals answered at {rate:.0f}/s, {lost} not in the decision log "
                  f"after SIGKILL = the last {lost / rate * 1000:.0f} ms of answers; "
                  f"{unwritten} answered before they were written")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
