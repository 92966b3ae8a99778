"""An account id longer than our tables hold.

Our tables keep account ids in columns `ACCOUNT_ID_LENGTH` characters wide. An id this
request supplies that is longer - the actor, or a target read from its path, query or body -
is refused at the edge as an unreadable account (`400`), before any store is read: nothing
of it reaches the app, a table or Redis. An id only the app's answer names (the requester a
contact response names) cannot be refused - the app has already acted - and is recorded
bounded, so that its alert is stored and no alert after it waits behind it.

Judged by the status the client gets, what reached the app, and what our tables hold, on
SQLite and PostgreSQL (which refuses an over-long value: before the edge check, an alert
about such an id failed for ever there and held every later alert behind it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock
from safe_accounts.db.bulk_insert import bounded
from safe_accounts.db.metadata import ACCOUNT_ID_LENGTH
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts

from .conftest import HostApp, Wrapped, drop_host_tables, seed

# Just over the columns, and far over them.
LONG = {"just-over": "a" * (ACCOUNT_ID_LENGTH + 45), "huge": "b" * 100_000}
CHILDREN = ["kid", "young", "teen"]
OUR_TABLES = (
    "safe_accounts_decisions", "safe_accounts_reports", "safe_accounts_alerts", "safe_accounts_restrictions",
    "safe_accounts_age_bands", "safe_accounts_cases",
)


@pytest.fixture(params=list(LONG))
def long_id(request: pytest.FixtureRequest) -> str:
    return LONG[request.param]


@pytest.fixture
async def app(
    engine: AsyncEngine, database_url: str, policy_file: Path, clock: FrozenClock
) -> AsyncIterator[Wrapped]:
    await seed(engine, clock)
    host = HostApp()
    middleware = SafeAccountsMiddleware(
        host.build(), policy=policy_file, database_url=database_url, clock=clock,
        signals=attach_grooming_alerts(flush_interval=0.01),
    )
    await middleware.start()
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Wrapped(host, middleware, client)
    await middleware.close()
    await drop_host_tables(engine)



async def _rows(w: Wrapped, table: str) -> list[dict[str, Any]]:
    await w.middleware.drain()
    async with w.middleware.engine.connect() as conn:
        return [dict(r) for r in (await conn.exec_driver_sql(f"SELECT * FROM {table}")).mappings().all()]


async def _nothing_of(w: Wrapped, long_id: str) -> None:
    """No row of ours names the id, whole or cut: the request left nothing behind."""
    start = long_id[:ACCOUNT_ID_LENGTH // 2]
    for table in OUR_TABLES:
        for row in await _rows(w, table):
            assert start not in repr(row), (table, row)


def _unreadable(response: httpx.Response, kind: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"https://safe-accounts.dev/problems/{kind}"


# --- the actor -------------------------------------------------------------------------


async def test_an_actor_whose_id_we_cannot_keep_is_refused_before_anything_is_read(
    app: Wrapped, long_id: str
) -> None:
    for child in CHILDREN:
        dm = await app.post("/api/v1/messages", long_id, json={"to": child})
        _unreadable(dm, "unreadable-actor")
    request = await app.post("/api/friend-requests", long_id, json={"to": "kid"})
    _unreadable(request, "unreadable-actor")
    search = await app.get("/api/search", long_id)
    _unreadable(search, "unreadable-actor")
    assert app.host.received == []
    await _nothing_of(app, long_id)
    assert await app.alerts.service.list() == []


async def test_an_actor_at_the_columns_width_is_kept_whole(app: Wrapped) -> None:
    actor = "c" * ACCOUNT_ID_LENGTH
    dm = await app.post("/api/v1/messages", actor, json={"to": "kid"})
    assert dm.status_code == 403  # a stranger's DM to a child, decided as any other
    [row] = await _rows(app, "safe_accounts_decisions")
    assert row["actor_id"] == actor


# --- a target the request names ----------------------------------------------------------


async def test_a_dm_to_an_id_we_cannot_keep_is_an_unreadable_target(app: Wrapped, long_id: str) -> None:
    for body in ({"to": long_id}, {"recipients": ["adult", long_id]}):
        dm = await app.post("/api/v1/messages", "adult", json=body)
        _unreadable(dm, "unreadable-target")
    # A URL of httpx's is at most 64 KiB: the longest id it sends in a query.
    query = await app.post("/api/v1/messages", "adult", params={"to": long_id[:60_000]})
    _unreadable(query, "unreadable-target")
    form = await app.post("/api/v1/messages", "adult", data={"to": long_id})
    _unreadable(form, "unreadable-target")
    assert app.reached("dm") == []
    await _nothing_of(app, long_id)


async def test_a_contact_request_to_an_id_we_cannot_keep_is_refused(app: Wrapped, long_id: str) -> None:
    response = await app.post("/api/friend-requests", "adult", json={"to": long_id})
    _unreadable(response, "unreadable-target")
    assert app.reached("friend-request") == []
    await _nothing_of(app, long_id)


async def test_a_profile_whose_id_we_cannot_keep_is_refused(app: Wrapped) -> None:
    response = await app.get(f"/api/accounts/{LONG['just-over']}", "adult")
    _unreadable(response, "unreadable-target")
    assert app.reached("profile") == []


async def test_blocks_and_reports_of_an_id_we_cannot_keep_are_refused_and_hold_up_no_alert(
    app: Wrapped, long_id: str
) -> None:
    for child in CHILDREN:
        block = await app.post("/api/blocks", child, json={"account": long_id})
        _unreadable(block, "unreadable-target")
        report = await app.post("/api/reports", child, json={"account": long_id})
        _unreadable(report, "unreadable-target")
    assert app.reached("block") == []
    # Three children block an account we can keep: its alert is raised as ever.
    for child in CHILDREN:
        assert (await app.post("/api/blocks", child, json={"account": "adult"})).status_code == 200
    await app.middleware.drain()
    assert [(a.subject, a.signal) for a in await app.alerts.service.list()] == [("adult", "blocked-by-minors")]
    await _nothing_of(app, long_id)


# --- an id only the app's answer names -----------------------------------------------------


async def test_a_requester_only_the_apps_answer_names_is_alerted_on_bounded(
    app: Wrapped, long_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from . import conftest

    senders = {f"long{i}": long_id for i in range(5)} | {f"parent{i}": "parent" for i in range(5)}
    monkeypatch.setattr(conftest, "REQUEST_SENDERS", senders)
    await app.middleware.runtime.bands.set("fifth-child", band="under_13")  # type: ignore[union-attr]
    await app.middleware.runtime.bands.set("sixth-child", band="under_13")  # type: ignore[union-attr]
    children = [*CHILDREN, "fifth-child", "sixth-child"]
    for prefix in ("long", "parent"):  # the long id's alert first: the parent's must not wait behind it
        for i, child in enumerate(children):
            response = await app.post(f"/api/v2/friend-requests/{prefix}{i}/reject", child)
            assert response.status_code == 200
    await app.middleware.drain()
    raised = {a.subject: a.signal for a in await app.alerts.service.list()}
    kept = bounded(long_id, ACCOUNT_ID_LENGTH)
    assert raised == {kept: "rejected-by-minors", "parent": "rejected-by-minors"}
    assert len(kept) == ACCOUNT_ID_LENGTH
    restricted = {r["account_id"] for r in await _rows(app, "safe_accounts_restrictions") if r["lifted_at"] is None}
    assert restricted == {kept, "parent"}
