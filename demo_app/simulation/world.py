"""Putting the population into the demo app's own tables, as a platform's history would
have left it: accounts with birth dates and schools, friendships both ways, and (when the
run asks for it) the staff the platform has vouched for."""

from __future__ import annotations

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from ..tables import accounts, friendships, metadata, staff_vouches
from .population import Population, Role

_CHUNK = 2000
# The population's friendships are the platform's history: made before the run began, not
# at its first second (a policy may tell long-standing connections from new ones).
HISTORY_SECONDS = 365 * 86400
# Who a platform can verify as a school's or club's staff: the school or the club says so.
# Tutors are hired privately and older children's friends are nobody's staff.
STAFF = frozenset({Role.TEACHER, Role.COACH, Role.YOUTH_WORKER})


async def write_population(
    engine: AsyncEngine, population: Population, now: float, *, vouched: bool = False
) -> None:
    """The population in the app's tables; `vouched`: teachers, coaches and youth workers
    are in `staff_vouches`, as a platform that verifies staff would have them."""
    rows = [
        {
            "id": p.id,
            "handle": p.handle,
            "display_name": p.name,
            "birth_date": p.birth_date,
            "location": "Somewhere",
            "school": p.school,
            "bio": "",
            # The app must not know who the groomers are: they sign up as any adult does.
            "role": "adult" if p.role is Role.GROOMER else p.role.value,
        }
        for p in population.people
    ]
    pairs = [
        {"account_id": one, "friend_id": other, "created_at": now - HISTORY_SECONDS}
        for a, b in sorted(population.friendships)
        for one, other in ((a, b), (b, a))
    ]
    vouches = [
        {"account_id": p.id, "vouched_for_by": p.school or "club"}
        for p in population.people
        if vouched and p.role in STAFF
    ]
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        for table, values in ((accounts, rows), (friendships, pairs), (staff_vouches, vouches)):
            for start in range(0, len(values), _CHUNK):
                await conn.execute(insert(table), values[start : start + _CHUNK])
        if conn.dialect.name == "postgresql":
            await conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('accounts', 'id'), (SELECT MAX(id) FROM accounts))"
                )
            )
