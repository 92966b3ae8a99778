"""One account, many spellings: a typed handler reads `036`, `+36`, `36.0`, ` 36`, `3_6` and the
JSON number `3.6e1` as account 36. Each spelling is checked as that account, and what is recorded
and counted (decision rows, reports, grooming signals) is recorded once per account.

The app is a FastAPI social network with `int` ids whose own `users` table (id, birth date) is
where the middleware reads bands from; the bare app says which account each spelling reaches.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.alerts.pipeline import GroomingAlerts
from safe_accounts.clock import FrozenClock
from safe_accounts.decisions.table import decision_log
from safe_accounts.moderation import Period, transparency_report
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts

CLOCK = FrozenClock(1_800_000_000)  # 2027-01-15
CHILD = 36  # under 13
TEEN = 7001  # 13
OTHER_CHILD = 7002  # 15
ADULT = 100
OTHER_ADULT = 101
AGE_UNKNOWN = 102  # an account whose birth date the app does not have
BORN = {
    CHILD: date(2016, 5, 1),
    TEEN: date(2013, 3, 1),
    OTHER_CHILD: date(2011, 9, 9),
    ADULT: date(1980, 1, 1),
    OTHER_ADULT: date(1975, 6, 6),
    AGE_UNKNOWN: None,
}
NO_ACCOUNTS = (555, 556, 557)  # ids with no row: no account at all

POLICY = textwrap.dedent(
    """
    version: 1
    name: typed-ids
    extends: baseline
    # A production budget is 250 ms; a loaded test machine can take longer over a cold query.
    defaults: {time_budget_ms: 2000}
    identity:
      - source: header
        header: x-account-id
        trusted_proxies: ["127.0.0.1/32"]
    bands:
      store: {source: host, table: sp_users, id_column: id, birth_date_column: born}
    relationships:
      connected:
        sql: SELECT b FROM sp_friendships WHERE a = :actor AND b IN :targets
      mutual_count:
        sql: >-
          SELECT COUNT(*) FROM sp_friendships f1 JOIN sp_friendships f2 ON f1.b = f2.b
          WHERE f1.a = :actor AND f2.a = :target
      cache_seconds: 0
    routes:
      - name: profile
        method: GET
        path: /users/{user_id}
        action: profile_view
        targets: [{path: user_id}]
        response: {redact: [location, school]}
      - name: dm
        method: POST
        path: /messages
        action: direct_message
        targets: [{json: to}]
      - name: group
        method: POST
        path: /groups
        action: direct_message
        targets: [{json: "members[*]"}]
      - name: report
        method: POST
        path: /reports
        action: report
        targets: [{json: account}]
    """
)


class Message(BaseModel):
    to: int
    text: str


class Group(BaseModel):
    members: list[int]


class Report(BaseModel):
    account: int
    reason: str = ""


def typed_app(reached: list[tuple[str, Any]]) -> FastAPI:
    """The app under test: what reached which handler, as the handler read it."""
    app = FastAPI()

    @app.get("/users/{user_id}")
    async def profile(user_id: int) -> dict[str, Any]:
        reached.append(("profile", user_id))
        return {"id": user_id, "name": f"user {user_id}", "location": "Leeds", "school": "Park Primary"}

    @app.post("/messages", status_code=201)
    async def message(body: Message) -> dict[str, Any]:
        reached.append(("dm", body.to))
        return {"sent": True}

    @app.post("/groups", status_code=201)
    async def group(body: Group) -> dict[str, Any]:
        reached.append(("group", tuple(body.members)))
        return {"created": True}

    @app.post("/reports")
    async def report(body: Report) -> dict[str, Any]:
        reached.append(("report", body.account))
        return {"ok": True}

    return app


async def _seed(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE IF EXISTS sp_users")
        await conn.exec_driver_sql("DROP TABLE IF EXISTS sp_friendships")
        await conn.exec_driver_sql("CREATE TABLE sp_users (id INTEGER PRIMARY KEY, born DATE)")
        await conn.exec_driver_sql("CREATE TABLE sp_friendships (a VARCHAR(64), b VARCHAR(64))")
        for account, born in BORN.items():
            value = "NULL" if born is None else f"'{born.isoformat()}'"
            await conn.exec_driver_sql(f"INSERT INTO sp_users VALUES ({account}, {value})")


async def _drop(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE IF EXISTS sp_users")
        await conn.exec_driver_sql("DROP TABLE IF EXISTS sp_friendships")


class Site:
    """The same app, bare and wrapped, and what reached it."""

    def __init__(self, middleware: SafeAccountsMiddleware, bare: FastAPI, reached: list[tuple[str, Any]]) -> None:
        self.middleware = middleware
        self.reached = reached
        self.wrapped = httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://t")
        self.bare = httpx.AsyncClient(transport=httpx.ASGITransport(app=bare), base_url="http://t")

    async def post(self, path: str, actor: int, body: str, *, bare: bool = False) -> httpx.Response:
        client = self.bare if bare else self.wrapped
        headers = {"x-account-id": str(actor), "content-type": "application/json"}
        return await client.post(path, content=body.encode(), headers=headers)

    async def get(self, path: str, actor: int, *, bare: bool = False) -> httpx.Response:
        client = self.bare if bare else self.wrapped
        return await client.get(path, headers={"x-account-id": str(actor)})

    def reached_as(self, kind: str) -> list[Any]:
        return [account for k, account in self.reached if k == kind]

    async def decisions(self) -> list[dict[str, Any]]:
        runtime = self.middleware.runtime
        assert runtime is not None
        await runtime.decisions.flush()
        async with self.middleware.engine.connect() as conn:
            rows = (await conn.execute(decision_log.select().order_by(decision_log.c.at))).mappings().all()
        return [dict(r) for r in rows]

    async def decided_about(self, response: httpx.Response) -> list[tuple[str, str]]:
        """(target, band) of each decision-log row of a refusal: whom it was refused for."""
        decision = response.json()["decision_id"]
        rows = await self.decisions()
        return [(r["target_id"], r["target_band"]) for r in rows if r["id"] == decision]

    def alerts(self) -> GroomingAlerts:
        runtime = self.middleware.runtime
        assert runtime is not None
        return runtime.alerts


async def _site(engine: AsyncEngine, database_url: str, tmp_path: Path, **options: Any) -> AsyncIterator[Site]:
    await _seed(engine)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    reached: list[tuple[str, Any]] = []
    app = typed_app(reached)
    middleware = SafeAccountsMiddleware(app, policy=policy, database_url=database_url, clock=CLOCK, **options)
    await middleware.start()
    site = Site(middleware, app, reached)
    try:
        yield site
    finally:
        await site.wrapped.aclose()
        await site.bare.aclose()
        await middleware.close()
        await _drop(engine)


@pytest.fixture
async def site(engine: AsyncEngine, database_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    async for s in _site(engine, database_url, tmp_path, signals=None):
        yield s


@pytest.fixture
async def with_signals(engine: AsyncEngine, database_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    async for s in _site(engine, database_url, tmp_path, signals=attach_grooming_alerts(flush_interval=0.01)):
        yield s


# --- spellings, as hypothesis writes them -------------------------------------------------

_SPACES = st.sampled_from(["", " ", "  ", "\t", "\n"])


def text_spellings(account: int) -> st.SearchStrategy[str]:
    """Strings pydantic's lax `int` reads as `account`: spaces around, a `+`, leading zeros,
    `_` between digits, a fraction of zeros."""

    def build(before: str, sign: str, zeros: int, underscore: int | None, fraction: str, after: str) -> str:
        digits = str(account)
        if underscore is not None and len(digits) > 1:
            at = 1 + underscore % (len(digits) - 1)
            digits = digits[:at] + "_" + digits[at:]
        return f"{before}{sign}{'0' * zeros}{digits}{fraction}{after}"

    return st.builds(
        build,
        _SPACES,
        st.sampled_from(["", "+"]),
        st.integers(0, 3),
        st.none() | st.integers(0, 8),
        st.sampled_from(["", ".0", ".00"]),
        _SPACES,
    )


def json_spellings(account: int) -> st.SearchStrategy[str]:
    """`account` as a JSON value: a number (integer, with a fraction of zeros, with an exponent)
    or any of its string spellings."""
    digits = str(account)
    numbers = st.sampled_from(
        [
            digits,
            f"{digits}.0",
            f"{digits}.000",
            f"{digits}e0",
            f"{digits}0e-1",
            f"{digits[0]}.{digits[1:]}e{len(digits) - 1}",
        ]
    )
    return numbers | text_spellings(account).map(json.dumps)


HYPOTHESIS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# --- every spelling is checked as the account ---------------------------------------------


@HYPOTHESIS
@given(spelling=json_spellings(CHILD))
async def test_a_stranger_cannot_message_a_child_by_any_spelling_of_the_childs_id(site: Site, spelling: str) -> None:
    site.reached.clear()  # the site is shared by every example
    body = '{"to": %s, "text": "hi"}'
    bare = await site.post("/messages", ADULT, body % spelling, bare=True)
    assert bare.status_code == 201 and site.reached_as("dm")[-1] == CHILD, "the app reads it as the child"
    response = await site.post("/messages", ADULT, body % spelling)
    assert response.status_code == 403
    assert response.json()["rule"] == "stranger-dm-to-minor"
    assert site.reached_as("dm").count(CHILD) == 1, "only the bare app's copy reached the child"
    # Refused as the child, not merely as an id of unknown age.
    assert await site.decided_about(response) == [("36", "under_13")]


@HYPOTHESIS
@given(spelling=text_spellings(CHILD))
async def test_an_under_13s_profile_is_hidden_by_any_spelling_of_the_id(site: Site, spelling: str) -> None:
    path = "/users/" + quote(spelling, safe="+")
    bare = await site.get(path, ADULT, bare=True)
    assert bare.status_code == 200 and bare.json()["id"] == CHILD, "the app shows the child's profile"
    response = await site.get(path, ADULT)
    assert response.status_code == 404, f"{spelling!r}: {response.status_code} {response.text}"
    assert "Leeds" not in response.text


async def test_ids_the_app_reads_through_int_or_float_are_the_account_too(site: Site) -> None:
    # A handler that calls `int()` reads any script's digits; one that goes through `float()`
    # reads an exponent. FastAPI refuses both; the middleware still checks them as the child.
    for spelling in ("３６", "٣٦", "3.6e1", "36.", "36.00000000000000001"):
        response = await site.post("/messages", ADULT, json.dumps({"to": spelling, "text": "hi"}))
        assert response.status_code == 403, spelling
        assert await site.decided_about(response) == [("36", "under_13")], spelling
    # And what pydantic reads as 1: a JSON `true` (account 1 has no row: unknown, protected
    # as a minor; a route whose target is required may also refuse it as unreadable).
    response = await site.post("/messages", ADULT, '{"to": true, "text": "hi"}')
    assert response.status_code in (400, 403)
    assert site.reached_as("dm") == []


# --- records and counts: once per account -------------------------------------------------


async def test_one_refused_message_naming_a_child_twice_writes_one_decision_row(site: Site) -> None:
    response = await site.post("/groups", ADULT, '{"members": [36, "036", " 36.0"]}')
    assert response.status_code == 403
    # One spelling alone is one row too, named as the store knows the account.
    assert (await site.post("/messages", ADULT, '{"to": "0036", "text": "hi"}')).status_code == 403
    rows = await site.decisions()
    assert [(r["action"], r["rule"], r["target_id"], r["target_band"]) for r in rows] == [
        ("direct_message", "stranger-dm-to-minor", "36", "under_13"),
        ("direct_message", "stranger-dm-to-minor", "36", "under_13"),
    ]
    assert site.reached_as("group") == [] and site.reached_as("dm") == []
    day = CLOCK.today()
    report = await transparency_report(site.middleware.engine, Period.of(day, day), clock=CLOCK)
    assert report.contacts_blocked == {("direct_message", "under_13"): 2}


async def test_an_id_with_no_account_is_recorded_once_in_its_canonical_form(site: Site) -> None:
    response = await site.post("/groups", ADULT, '{"members": ["0555", 555.0, " +555"]}')
    assert response.status_code == 403, "no row: unknown, protected as a minor"
    rows = await site.decisions()
    assert [(r["target_id"], r["target_band"]) for r in rows] == [("555", "unknown")]


async def test_a_childs_report_naming_one_account_two_ways_is_one_report(with_signals: Site) -> None:
    # Duplicate keys: the app keeps the last, the middleware checks both.
    body = '{"account": 100, "account": "0100", "reason": "he asked for photos"}'
    response = await with_signals.post("/reports", TEEN, body)
    assert response.status_code == 200 and with_signals.reached_as("report") == [ADULT]
    runtime = with_signals.middleware.runtime
    assert runtime is not None
    await runtime.reports.flush()
    async with with_signals.middleware.engine.connect() as conn:
        rows = (
            await conn.exec_driver_sql("SELECT reporter_id, reported_id, reported_band FROM safe_accounts_reports")
        ).all()
    assert [tuple(r) for r in rows] == [("7001", "100", "adult")]
    day = CLOCK.today()
    report = await transparency_report(with_signals.middleware.engine, Period.of(day, day), clock=CLOCK)
    assert report.reports_received == 1


async def test_a_json_true_is_account_1_where_recorded_and_refused_where_protected(with_signals: Site) -> None:
    # pydantic's lax `int` reads `true` as 1. A report is recorded, never refused: it is
    # recorded against the account the app read. A message is protected: `true` is not a
    # shape an id is written in, so it is refused unread (docs/security.md, 6.3).
    response = await with_signals.post("/reports", TEEN, '{"account": true, "reason": "he asked for photos"}')
    assert response.status_code == 200 and with_signals.reached_as("report") == [1]
    runtime = with_signals.middleware.runtime
    assert runtime is not None and runtime.reports is not None
    await runtime.reports.flush()
    async with with_signals.middleware.engine.connect() as conn:
        rows = (await conn.exec_driver_sql("SELECT reporter_id, reported_id FROM safe_accounts_reports")).all()
    assert [tuple(r) for r in rows] == [("7001", "1")]
    refused = await with_signals.post("/messages", ADULT, '{"to": true, "text": "hi"}')
    assert refused.status_code == 400 and with_signals.reached_as("dm") == []
    assert (await with_signals.post("/messages", ADULT, '{"to": true, "text": "hi"}', bare=True)).status_code == 201


async def _alert_signals(site: Site) -> list[tuple[str, str]]:
    alerts = site.alerts()
    await alerts.recorder.flush()
    return [(a.subject, a.signal) for a in await alerts.service.list()]


async def test_a_stranger_trying_one_child_three_ways_has_reached_one_child(with_signals: Site) -> None:
    for spelling in ("36", '"036"', '" +36.0"'):
        response = await with_signals.post("/messages", ADULT, f'{{"to": {spelling}, "text": "hi"}}')
        assert response.status_code == 403
    await with_signals.post("/messages", ADULT, '{"to": 7001, "text": "hi"}')
    assert await _alert_signals(with_signals) == [], "two different children, not four"
    # A third child is the third: `denied-dms-to-minors` counts children, and now it fires.
    await with_signals.post("/messages", ADULT, '{"to": 7002, "text": "hi"}')
    assert await _alert_signals(with_signals) == [("100", "denied-dms-to-minors")]


async def test_an_adult_messaging_ids_that_are_no_account_raises_no_alert(with_signals: Site) -> None:
    for account in NO_ACCOUNTS:
        response = await with_signals.post("/messages", ADULT, f'{{"to": {account}, "text": "hi"}}')
        assert response.status_code == 403, "still refused: unknown is protected as a minor"
    assert await _alert_signals(with_signals) == []
    # An account whose age the app does not know is an account, and protected as a minor: it
    # counts, with two children, as three different under-18s.
    for account in (AGE_UNKNOWN, CHILD, TEEN):
        response = await with_signals.post("/messages", OTHER_ADULT, f'{{"to": {account}, "text": "hi"}}')
        assert response.status_code == 403
    assert await _alert_signals(with_signals) == [("101", "denied-dms-to-minors")]
