"""The population in the demo app's tables: its friendships are the platform's history,
made before the run began (a policy may tell long-standing connections from new ones);
its staff are vouched for when the run asks."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from demo_app.simulation import Parameters, Role
from demo_app.simulation.population import build_population
from demo_app.simulation.world import HISTORY_SECONDS, write_population
from demo_app.tables import friendships, staff_vouches

START = 1_772_409_600.0  # 2026-03-02 00:00 UTC


def test_every_friendship_of_the_population_is_older_than_the_run(tmp_path: Path) -> None:
    population = build_population(Parameters(accounts=200, days=7, seed=3, groomers=6), date(2026, 3, 2))

    async def newest_and_count() -> tuple[float, int]:
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'world.db'}")
        try:
            await write_population(engine, population, START)
            async with engine.connect() as conn:
                row = (await conn.execute(select(func.max(friendships.c.created_at), func.count()))).one()
                return float(row[0]), int(row[1])
        finally:
            await engine.dispose()

    newest, count = asyncio.run(newest_and_count())
    assert count == 2 * len(population.friendships)
    assert newest == START - HISTORY_SECONDS
    assert HISTORY_SECONDS >= 30 * 86400


def test_with_vouched_the_schools_and_clubs_staff_are_vouched_for_and_nobody_else(tmp_path: Path) -> None:
    population = build_population(Parameters(accounts=400, days=7, seed=3, groomers=6), date(2026, 3, 2))

    async def vouched_for(vouched: bool) -> set[int]:
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / f'world-{vouched}.db'}")
        try:
            await write_population(engine, population, START, vouched=vouched)
            async with engine.connect() as conn:
                return set((await conn.execute(select(staff_vouches.c.account_id))).scalars())
        finally:
            await engine.dispose()

    staff = {p.id for p in population.people if p.role in (Role.TEACHER, Role.COACH, Role.YOUTH_WORKER)}
    assert staff and asyncio.run(vouched_for(True)) == staff
    assert asyncio.run(vouched_for(False)) == set()
