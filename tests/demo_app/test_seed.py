"""The seed: the personas and their connections, idempotent, with bands that fit the
story on whatever day it runs."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from demo_app.database import make_engine
from demo_app.personas import PERSONAS
from demo_app.seed import main, seed
from demo_app.tables import (
    accounts,
    conversations,
    follows,
    friend_requests,
    friendships,
    messages,
    metadata,
)
from safe_accounts.bands.age import AgeBand, band_on

COUNTED = (accounts, friendships, follows, conversations, messages, friend_requests)


async def counts(demo_engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with demo_engine.connect() as conn:
        return {t.name: await conn.scalar(select(func.count()).select_from(t)) for t in COUNTED}


@pytest.fixture
async def demo_engine(demo_database: str):  # type: ignore[no-untyped-def]
    engine = make_engine(demo_database)
    yield engine
    await engine.dispose()


async def test_seeding_twice_adds_nothing_the_second_time(demo_engine) -> None:  # type: ignore[no-untyped-def]
    first = await seed(demo_engine, today=date(2026, 6, 1), now=1.0)
    after_first = await counts(demo_engine)
    second = await seed(demo_engine, today=date(2026, 6, 1), now=2.0)
    assert first.personas == len(PERSONAS) and first.friendships > 0 and first.requests == 1
    assert (
        second.personas,
        second.friendships,
        second.follows,
        second.conversations,
        second.requests,
    ) == (
        0,
        0,
        0,
        0,
        0,
    )
    assert await counts(demo_engine) == after_first
    assert after_first["friendships"] == 2 * first.friendships  # stored both ways


@pytest.mark.parametrize("today", [date(2026, 6, 1), date(2028, 2, 29), date(2031, 1, 1)])
async def test_the_personas_are_in_their_bands_on_the_day_of_seeding(
    demo_engine, today: date
) -> None:  # type: ignore[no-untyped-def]
    await seed(demo_engine, today=today, now=1.0)
    async with demo_engine.connect() as conn:
        born = dict((await conn.execute(select(accounts.c.handle, accounts.c.birth_date))).all())
    bands = {handle: band_on(birth, today) for handle, birth in born.items()}
    assert bands["mia"] is AgeBand.UNDER_13
    assert bands["leo"] is bands["ava"] is AgeBand.B13_15
    assert bands["zoe"] is AgeBand.B16_17
    assert {h for h, b in bands.items() if b is AgeBand.ADULT} == {
        "sam",
        "ms_khan",
        "dan",
        "priya",
        "tom",
        "stranger",
        "jo",
    }


async def test_reseeding_later_moves_birth_dates_with_today(demo_engine) -> None:  # type: ignore[no-untyped-def]
    await seed(demo_engine, today=date(2026, 6, 1), now=1.0)
    await seed(demo_engine, today=date(2030, 6, 1), now=2.0)
    async with demo_engine.connect() as conn:
        mia = await conn.scalar(select(accounts.c.birth_date).where(accounts.c.handle == "mia"))
    assert band_on(mia, date(2030, 6, 1)) is AgeBand.UNDER_13


async def test_the_stranger_knows_no_child(demo_engine) -> None:  # type: ignore[no-untyped-def]
    await seed(demo_engine, today=date(2026, 6, 1), now=1.0)
    children = {p.id for p in PERSONAS if p.role == "child"}
    stranger = next(p.id for p in PERSONAS if p.handle == "stranger")
    async with demo_engine.connect() as conn:
        friends = set(
            await conn.scalars(
                select(friendships.c.friend_id).where(friendships.c.account_id == stranger)
            )
        )
        mine = select(friendships.c.friend_id).where(friendships.c.account_id == stranger)
        friends_of_friends = set(
            await conn.scalars(
                select(friendships.c.friend_id).where(friendships.c.account_id.in_(mine))
            )
        )
    assert friends and not friends & children and not friends_of_friends & children


async def test_new_accounts_get_fresh_ids_after_seeding(demo_engine) -> None:  # type: ignore[no-untyped-def]
    # On PostgreSQL the seed gives ids explicitly; the sequence must have moved past them.
    await seed(demo_engine, today=date(2026, 6, 1), now=1.0)
    async with demo_engine.begin() as conn:
        new_id = await conn.scalar(
            accounts.insert()
            .values(handle="newcomer", display_name="New", birth_date=date(1990, 1, 1))
            .returning(accounts.c.id)
        )
    assert new_id > max(p.id for p in PERSONAS)


def test_the_command_seeds_a_database_given_by_url(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    assert main(["--database-url", url]) == 0
    assert main(["--database-url", url]) == 0
    out = capsys.readouterr().out.splitlines()
    assert f"{len(PERSONAS)} personas ({len(PERSONAS)} new)" in out[0]
    assert "(0 new), 0 friendships, 0 follows, 0 conversations, 0 friend requests added" in out[1]


@pytest.mark.parametrize(
    ("url", "code", "message"),
    [
        ("no-scheme", 2, "has no scheme"),
        ("mysql://x/y", 2, "not supported"),
        ("postgresql://postgres@127.0.0.1:1/none", 1, "cannot seed"),
    ],
)
def test_the_command_explains_a_bad_url(capsys, url: str, code: int, message: str) -> None:  # type: ignore[no-untyped-def]
    assert main(["--database-url", url]) == code
    assert message in capsys.readouterr().err


def test_every_table_is_in_the_apps_metadata() -> None:
    assert {t.name for t in metadata.sorted_tables} == {
        "accounts",
        "friend_requests",
        "friendships",
        "follows",
        "conversations",
        "conversation_participants",
        "messages",
        "blocks",
        "reports",
        "suspensions",
        "staff_vouches",
    }
