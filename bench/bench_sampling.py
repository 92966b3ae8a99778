"""What sampling an `allow` rule's log saves (issue 19): the realistic app's profile view of a
connected 14-year-old by their parent, with no `allow` rule (nothing is logged), with one
that records every such view, and with the same rule logging a tenth (`log: {sample: 0.1}`).

The app, its tables, its people and the middleware's wiring are `bench_realistic`'s; rounds
of the bare app and the three wrapped ones alternate, in process, and each row gives the
ratio of the median wall-clock times and the middleware's own CPU per view (wrapped less
bare, a round ending when the rows it queued are written). Before anything is timed, each
wrapped app is checked: the profile is answered whole, and the log holds a row for every
view, for about a tenth of them, or for none.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.decisions.table import decision_log

from ._report import Row, median
from .bench_overhead import Round, one, own_cpu, per_request
from .bench_realistic import PROFILE_FIELDS_REDACTED, Config, Unexpected, answer, database, host_app, policy, seed
from .bench_realistic import Scenario as Request

SECTION = "sampling"
RULE = "parents-views-recorded"
RECORDED = f"""
rules:
  - id: {RULE}
    action: profile_view
    when: {{target_band: [minor], connected: true}}
    then: allow
    reason: A connected adult's view of a minor's profile, recorded.
"""
# What each wrapped app's policy adds to the realistic one, and the share of views it logs.
VARIANTS = (
    ("no allow rule: nothing logged", "", 0.0),
    ("an allow rule logging every view", RECORDED, 1.0),
    ("the same rule logging a tenth (log: {sample: 0.1})", RECORDED + "    log: {sample: 0.1}\n", 0.1),
)
CHECKED_VIEWS = 200
# The realistic app's sizes, in a database of its own, in process only.
CONFIG = Config(pg_database="safe_accounts_bench_sampling", http=False)


@dataclass(frozen=True, slots=True)
class Settings:
    """How much to run; `FULL` is `make bench`'s, the tests run a tiny one."""

    config: Config = CONFIG
    checked_views: int = CHECKED_VIEWS


FULL = Settings()


async def logged(app: SafeAccountsMiddleware) -> int:
    await app.drain()
    async with app.engine.connect() as conn:
        return int(
            (
                await conn.execute(select(func.count()).select_from(decision_log).where(decision_log.c.rule == RULE))
            ).scalar_one()
        )


async def check(app: SafeAccountsMiddleware, view: Request, share: float, views: int) -> None:
    """The view is answered whole, and `share` of `views` views are logged (a sample's within
    four standard deviations: decision ids are random here)."""
    before = await logged(app)
    for _ in range(views):
        status, document = await answer(app, view)
        if status != 200 or any(f not in document for f in PROFILE_FIELDS_REDACTED):
            raise Unexpected(f"{view.what}: {status}, fields {sorted(document)}")
    written = await logged(app) - before
    if abs(written - share * views) > 4 * math.sqrt(views * share * (1 - share)):
        raise Unexpected(f"{written} of {views} views logged, not about {share:.0%}")


async def measure_in_process(kind: str, settings: Settings, tmp: Path) -> list[Row]:
    config = settings.config
    label = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}[kind]
    async with database(kind, config, tmp) as url:
        people = await seed(url, config.page)
        view = Request(
            "parent's view of a connected 14-year-old's profile", "GET", f"/api/users/{people.child}", people.parent
        )
        bare = host_app(url, config.page)
        inner = [host_app(url, config.page) for _ in VARIANTS]
        wrapped: list[SafeAccountsMiddleware] = []
        try:
            for index, (_, added, _) in enumerate(VARIANTS):
                policy_file = tmp / f"policy-{kind}-{index}.yaml"
                policy_file.write_text(policy(config.time_budget_ms) + added)
                app = SafeAccountsMiddleware(
                    inner[index], policy=policy_file, database_url=url, signals=None, health_path=None
                )
                await app.start()
                wrapped.append(app)
            sc, body = view.scope(), view.body
            for app, (_, _, share) in zip(wrapped, VARIANTS, strict=True):
                await one(app, sc, body)  # a cold first lookup may overrun the budget
                await check(app, view, share, settings.checked_views)
            for _ in range(config.warm):
                for either in (bare, *wrapped):
                    await one(either, sc, body)
            rounds: list[list[Round]] = [[] for _ in range(1 + len(wrapped))]
            for _ in range(config.rounds):
                rounds[0].append(await per_request(bare, sc, body, config.per_round))
                for i, app in enumerate(wrapped, start=1):
                    rounds[i].append(await per_request(app, sc, body, config.per_round, after=app.drain))
        finally:
            for app in wrapped:
                await app.close()
            for starlette in (bare, *inner):
                await starlette.state.engine.dispose()
    b = median(r.wall for r in rounds[0])
    rows = []
    for (what, _, _), measured in zip(VARIANTS, rounds[1:], strict=True):
        w = median(r.wall for r in measured)
        rows.append(
            Row(
                SECTION,
                f"{label}: {view.what}, {what}",
                f"{b:,.0f} µs bare, {w:,.0f} µs wrapped: ratio {w / b:.2f}; {own_cpu(rounds[0], measured)}",
            )
        )
        print(f"  {rows[-1].what}: {rows[-1].figure}", flush=True)
    cpu = [median(r.cpu for r in measured) for measured in rounds[1:]]
    rows.append(
        Row(
            SECTION,
            f"{label}: what logging a tenth saves per view",
            f"{cpu[1] - cpu[2]:+.1f} µs of the {cpu[1] - cpu[0]:+.1f} µs a logged view costs over an unlogged one",
        )
    )
    print(f"  {rows[-1].what}: {rows[-1].figure}", flush=True)
    return rows


def measure(settings: Settings = FULL) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in settings.config.databases:
            rows += asyncio.run(measure_in_process(kind, settings, Path(tmp)))
    return rows


def run() -> list[Row]:
    return measure(FULL)
