"""The pair's mutual connections on the events that follow the app's answer: a child's
rejection, block or report of an adult they share no friends with counts towards a signal
that asks for no friends in common (`where: {mutual_connections: {max: 0}}`), as the
NSPCC's "rejected friend requests from children" is most telling between strangers; one
they share a friend with does not. Read once the app has answered; when the lookup fails,
the event waits for it rather than counting without it. On both signal stores."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock
from safe_accounts.errors import StorageError
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts

from .conftest import POLICY, HostApp, Wrapped, drop_host_tables, seed

# One alert at the first event, so that each test reads what one event counted.
MUTUAL_POLICY = POLICY + textwrap.dedent(
    """\
    signals:
      counts:
        - id: rejected-by-unconnected-minors
          event: contact_rejected
          where: {other_band: [minor], mutual_connections: {max: 0}}
          window: 7d
          threshold: 1
          reason: A contact request rejected by an under-18 with no friends in common.
        - id: blocked-by-unconnected-minors
          event: blocked
          where: {other_band: [minor], mutual_connections: {max: 0}}
          window: 7d
          threshold: 1
          reason: Blocked by an under-18 with no friends in common.
        - id: reported-by-unconnected-minors
          event: reported
          where: {other_band: [minor], mutual_connections: {max: 0}}
          window: 7d
          threshold: 1
          reason: Reported by an under-18 with no friends in common.
        - id: accepted-by-minors-through-friends
          event: contact_accepted
          where: {other_band: [minor], mutual_connections: {min: 1}}
          window: 7d
          threshold: 1
          reason: A contact request accepted by an under-18 through friends in common.
    """
)
# Request 7 is from "adult", who shares no friend with "kid"; request 8 from "other-adult",
# who shares one ("parent").
STRANGER_REQUEST, FRIEND_OF_FRIEND_REQUEST = 7, 8


@pytest.fixture(params=["in-process", pytest.param("redis", marks=pytest.mark.redis)])
async def wired(
    request: pytest.FixtureRequest, engine: AsyncEngine, database_url: str, tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[Wrapped]:
    await seed(engine, clock)
    async with engine.begin() as conn:
        await conn.exec_driver_sql(f"INSERT INTO host_requests VALUES ('{FRIEND_OF_FRIEND_REQUEST}', 'other-adult')")
    redis_url = redis_prefix = None
    if request.param == "redis":
        redis_url = request.getfixturevalue("redis_url")
        redis_prefix = request.getfixturevalue("redis_prefix")
    policy = tmp_path / "policy.yaml"
    policy.write_text(MUTUAL_POLICY)
    host = HostApp()
    middleware = SafeAccountsMiddleware(
        host.build(), policy=policy, database_url=database_url, clock=clock, redis_url=redis_url,
        redis_prefix=redis_prefix, signals=attach_grooming_alerts(flush_interval=0.01),
    )
    await middleware.start()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://testserver") as client:
        yield Wrapped(host, middleware, client)
    await middleware.close()
    await drop_host_tables(engine)


async def _read_again(w: Wrapped) -> None:
    """Until the events waiting for their facts are read: the writer's own retry may have
    joined a lookup begun while the store was still down, and fail once more."""
    runtime = w.middleware.runtime
    assert runtime is not None and runtime.pending is not None
    for _ in range(100):
        await w.middleware.drain()
        if not runtime.pending.health()["pending"]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the pending events were never read")



async def _raised(w: Wrapped, signal: str) -> list[tuple[str, list[int | None]]]:
    """Who `signal` alerted about, with the mutual counts of the events that counted."""
    await w.middleware.drain()
    return [
        (a.subject, [item["mutual"] for item in a.evidence if "mutual" in item])
        for a in await w.alerts.service.list()
        if a.signal == signal
    ]


async def test_a_childs_rejection_of_an_adult_with_no_friends_in_common_counts(wired: Wrapped) -> None:
    assert (await wired.post(f"/api/friend-requests/{STRANGER_REQUEST}/reject", "kid")).status_code == 200
    assert await _raised(wired, "rejected-by-unconnected-minors") == [("adult", [0])]


async def test_a_childs_rejection_of_a_friend_of_a_friend_does_not(wired: Wrapped) -> None:
    assert (await wired.post(f"/api/friend-requests/{FRIEND_OF_FRIEND_REQUEST}/reject", "kid")).status_code == 200
    assert await _raised(wired, "rejected-by-unconnected-minors") == []


async def test_an_acceptance_carries_the_mutual_count_a_signal_asks_for(wired: Wrapped) -> None:
    assert (await wired.post(f"/api/friend-requests/{FRIEND_OF_FRIEND_REQUEST}/accept", "kid")).status_code == 200
    assert (await wired.post(f"/api/friend-requests/{STRANGER_REQUEST}/accept", "kid")).status_code == 200
    assert await _raised(wired, "accepted-by-minors-through-friends") == [("other-adult", [1])]


@pytest.mark.parametrize(
    ("route", "signal"),
    [("/api/blocks", "blocked-by-unconnected-minors"), ("/api/reports", "reported-by-unconnected-minors")],
)
async def test_a_childs_block_or_report_counts_against_an_adult_with_no_friends_in_common(
    wired: Wrapped, route: str, signal: str
) -> None:
    assert (await wired.post(route, "kid", json={"account": "other-adult"})).status_code == 200
    assert await _raised(wired, signal) == []
    assert (await wired.post(route, "kid", json={"account": "adult"})).status_code == 200
    assert await _raised(wired, signal) == [("adult", [0])]


async def test_a_rejection_whose_mutual_count_could_not_be_read_counts_once_it_can(
    wired: Wrapped, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = wired.middleware.runtime
    assert runtime is not None and runtime.pending is not None
    read = runtime.relationships.mutual

    async def down(actor: str, target: str) -> int:
        raise StorageError("relationship lookup down")

    monkeypatch.setattr(runtime.relationships, "mutual", down)
    assert (await wired.post(f"/api/friend-requests/{STRANGER_REQUEST}/reject", "kid")).status_code == 200
    # Never counted as "no friends in common" on a guess: it waits for the count.
    assert await _raised(wired, "rejected-by-unconnected-minors") == []
    assert runtime.pending.health()["pending"] == 1
    monkeypatch.setattr(runtime.relationships, "mutual", read)  # the lookup answers again
    await _read_again(wired)
    assert await _raised(wired, "rejected-by-unconnected-minors") == [("adult", [0])]


async def test_a_rejection_whose_requester_is_read_late_carries_the_mutual_count(
    wired: Wrapped, engine: AsyncEngine
) -> None:
    """The lookup that names the requester (`request_sender`) fails: the answer goes through,
    and its event is recorded once the requester, the child's band and the pair's mutual
    count can be read."""
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE host_requests")
    assert (await wired.post(f"/api/friend-requests/{STRANGER_REQUEST}/reject", "kid")).status_code == 200
    assert await _raised(wired, "rejected-by-unconnected-minors") == []
    async with engine.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE host_requests (id VARCHAR(64), sender VARCHAR(64))")
        await conn.exec_driver_sql(f"INSERT INTO host_requests VALUES ('{STRANGER_REQUEST}', 'adult')")
    await _read_again(wired)
    assert await _raised(wired, "rejected-by-unconnected-minors") == [("adult", [0])]
