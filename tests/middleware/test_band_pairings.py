"""Every action for every pairing of bands, connected and not, through the real middleware.

The expected outcomes are the baseline's protections written out as a table, independently
of the rule engine: a change to either shows up here.
"""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts import AgeBand

from .conftest import Wrapped

BANDS = ["under_13", "13_15", "16_17", "adult", "unknown"]
MINOR = {"under_13", "13_15", "16_17", "unknown"}  # the baseline treats unknown age as a minor


def actor_id(band: str) -> str:
    return f"actor-{band}"


def target_id(band: str, connected: bool) -> str:
    return f"target-{band}-{'friend' if connected else 'stranger'}"


@pytest.fixture
async def cast(wrapped: Wrapped, engine: AsyncEngine) -> Wrapped:
    runtime = await wrapped.middleware.start()
    async with engine.begin() as conn:
        for a, t in itertools.product(BANDS, BANDS):
            friend = target_id(t, True)
            await conn.exec_driver_sql(
                f"INSERT INTO host_friendships VALUES ('{actor_id(a)}', '{friend}'), ('{friend}', '{actor_id(a)}')"
            )
    for band in BANDS:
        if band == "unknown":
            continue  # no record at all
        await runtime.bands.set(actor_id(band), band=AgeBand(band))
        for connected in (True, False):
            await runtime.bands.set(target_id(band, connected), band=AgeBand(band))
    return wrapped


PAIRINGS = [(a, t, c) for a in BANDS for t in BANDS for c in (True, False)]


def expected_dm(target: str, connected: bool) -> int:
    # Ofcom: children cannot be messaged by accounts outside their connections.
    return 403 if target in MINOR and not connected else 201


async def test_direct_messages(cast: Wrapped) -> None:
    wrong = []
    for a, t, c in PAIRINGS:
        response = await cast.post("/api/v1/messages", actor_id(a), json={"to": target_id(t, c)})
        if response.status_code != expected_dm(t, c):
            wrong.append((a, t, c, response.status_code))
    assert wrong == []


async def test_contact_requests_are_allowed_and_logged_when_a_stranger_adult_reaches_a_minor(cast: Wrapped) -> None:
    wrong = []
    for a, t, c in PAIRINGS:
        response = await cast.post("/api/friend-requests", actor_id(a), json={"to": target_id(t, c)})
        if response.status_code != 201:
            wrong.append((a, t, c, response.status_code))
    assert wrong == []
    logged = {
        (r["actor_id"], r["target_id"]) for r in await cast.decisions() if r["rule"] == "stranger-request-to-minor"
    }
    expected = {
        (actor_id(a), target_id(t, c)) for a, t, c in PAIRINGS
        if t in MINOR and a in ("adult", "unknown") and not c
    }
    assert logged == expected


def expected_profile(actor: str, target: str, connected: bool) -> str:
    if connected or target not in MINOR:
        return "full"
    if target == "under_13" and actor in ("adult", "unknown"):
        return "hidden"
    return "redacted"


async def test_profile_views(cast: Wrapped) -> None:
    wrong = []
    for a, t, c in PAIRINGS:
        response = await cast.get(f"/api/accounts/{target_id(t, c)}", actor_id(a))
        if response.status_code == 404:
            got = "hidden"
        else:
            got = "full" if "location" in response.json() else "redacted"
        if got != expected_profile(a, t, c):
            wrong.append((a, t, c, got))
    assert wrong == []


async def test_discovery(cast: Wrapped, monkeypatch: pytest.MonkeyPatch) -> None:
    from . import conftest

    everyone = {target_id(t, c): AgeBand.ADULT for t in BANDS for c in (True, False)}
    monkeypatch.setattr(conftest, "ACCOUNTS", everyone)  # the host app's search lists every target
    wrong = []
    for a in BANDS:
        response = await cast.get("/api/search", actor_id(a))
        shown = {item["id"] for item in response.json()["results"]}
        for t, c in itertools.product(BANDS, (True, False)):
            visible = target_id(t, c) in shown
            if visible != (c or t not in MINOR):
                wrong.append((a, t, c, visible))
    assert wrong == []
