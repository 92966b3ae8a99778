"""The moderation app, mounted in a host app: who may use it, its forms (CSRF), its JSON API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount

from safe_accounts.alerts.restrictions import Restrictions
from safe_accounts.clock import FrozenClock
from safe_accounts.moderation import Moderation, moderation_app

from .conftest import file_report, raise_alert
from .records import T0

MOD = {"x-user": "mod-1", "x-role": "moderator"}
OTHER_MOD = {"x-user": "mod-2", "x-role": "moderator"}
USER = {"x-user": "adult-x"}


def _is_moderator(request: Request) -> bool:
    # The host's authentication has run before us; here it is a header for brevity.
    return request.headers.get("x-role") == "moderator"


async def _is_moderator_async(request: Request) -> bool:
    return _is_moderator(request)


@pytest.fixture(params=["sync-check", "async-check"])
async def client(
    request: pytest.FixtureRequest,
    engine: AsyncEngine,
    clock: FrozenClock,
    restrictions: Restrictions,
) -> AsyncIterator[httpx.AsyncClient]:
    check = _is_moderator if request.param == "sync-check" else _is_moderator_async
    app = moderation_app(
        engine,
        is_moderator=check,
        moderator_id=lambda r: r.headers["x-user"],
        restrictions=restrictions,
        clock=clock,
        csrf_secret=b"s" * 32,
    )
    host = Starlette(routes=[Mount("/safe-accounts", app)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=host), base_url="http://host"
    ) as client:
        yield client


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the form carries a CSRF token"
    return found.group(1)


@pytest.mark.parametrize(
    "path", ["/", "/items/a1", "/transparency", "/api/queue", "/api/items/a1", "/api/transparency"]
)
async def test_non_moderators_get_a_403_problem(
    client: httpx.AsyncClient, engine: AsyncEngine, path: str
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    response = await client.get(f"/safe-accounts{path}", headers=USER)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/not-a-moderator")


async def test_non_moderators_cannot_act(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    api = await client.post(
        "/safe-accounts/api/items/a1/actions", headers=USER, json={"action": "dismiss"}
    )
    form = await client.post(
        "/safe-accounts/items/a1/actions", headers=USER, data={"action": "dismiss"}
    )
    assert api.status_code == form.status_code == 403
    assert await Moderation(engine).actions_on("a1") == []


async def test_the_queue_page_links_items_under_the_mount(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    page = await client.get("/safe-accounts/", headers=MOD)
    assert page.status_code == 200
    assert 'href="/safe-accounts/items/a1"' in page.text
    assert "1 open (1 alert, 0 reports)" in page.text
    assert "signed in as mod-1" in page.text
    assert "script" not in page.text.lower()  # no scripts, no external assets
    assert page.headers["x-frame-options"] == "DENY"


async def test_a_form_with_its_token_takes_the_action_and_records_who_and_when(
    client: httpx.AsyncClient, engine: AsyncEngine, clock: FrozenClock, restrictions: Restrictions
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    page = await client.get("/safe-accounts/items/a1", headers=MOD)
    clock.advance(90)
    done = await client.post(
        "/safe-accounts/items/a1/actions",
        headers=MOD,
        data={"csrf_token": _token(page.text), "action": "restrict", "note": "pattern"},
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/safe-accounts/items/a1"
    [record] = await Moderation(engine).actions_on("a1")
    assert (record.action.value, record.by, record.at, record.note) == (
        "restrict",
        "mod-1",
        T0 + 90,
        "pattern",
    )
    assert restrictions.is_restricted("adult-x")
    shown = await client.get("/safe-accounts/items/a1", headers=MOD)
    assert "restricted" in shown.text and "pattern" in shown.text


@pytest.mark.parametrize("token", [None, "", "garbage", "1800000000.abcdef"])
async def test_a_form_without_a_valid_token_is_refused(
    client: httpx.AsyncClient, engine: AsyncEngine, token: str | None
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    data = {"action": "dismiss"} if token is None else {"action": "dismiss", "csrf_token": token}
    response = await client.post("/safe-accounts/items/a1/actions", headers=MOD, data=data)
    assert response.status_code == 403
    assert response.json()["type"].endswith("/csrf-token")
    assert await Moderation(engine).actions_on("a1") == []


async def test_one_moderators_token_is_no_use_to_another(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    token = _token((await client.get("/safe-accounts/items/a1", headers=MOD)).text)
    response = await client.post(
        "/safe-accounts/items/a1/actions",
        headers=OTHER_MOD,
        data={"action": "dismiss", "csrf_token": token},
    )
    assert response.status_code == 403


async def test_a_stale_token_is_refused(
    client: httpx.AsyncClient, engine: AsyncEngine, clock: FrozenClock
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    token = _token((await client.get("/safe-accounts/items/a1", headers=MOD)).text)
    clock.advance(13 * 3600)
    response = await client.post(
        "/safe-accounts/items/a1/actions",
        headers=MOD,
        data={"action": "dismiss", "csrf_token": token},
    )
    assert response.status_code == 403


async def test_the_json_api_lists_shows_and_acts(
    client: httpx.AsyncClient, engine: AsyncEngine, clock: FrozenClock
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    report_id = await file_report(engine, "kid", "13_15", "adult-x", T0 + 60)

    queue = (await client.get("/safe-accounts/api/queue", headers=MOD)).json()
    assert queue["open"] == {"alerts": 1, "reports": 1}
    assert [(i["kind"], i["id"]) for i in queue["items"]] == [
        ("alert", "a1"),
        ("report", report_id),
    ]

    clock.advance(300)
    created = await client.post(
        f"/safe-accounts/api/items/{report_id}/actions",
        headers=MOD,
        json={"action": "warn", "note": "first warning"},
    )
    assert created.status_code == 201
    record = created.json()
    assert {k: record[k] for k in ("item_kind", "item_id", "action", "by", "at", "note")} == {
        "item_kind": "report",
        "item_id": report_id,
        "action": "warn",
        "by": "mod-1",
        "at": T0 + 300,
        "note": "first warning",
    }
    item = (await client.get(f"/safe-accounts/api/items/{report_id}", headers=MOD)).json()
    assert item["status"] == "resolved"
    assert [a["action"] for a in item["actions"]] == ["warn"]
    assert [
        i["id"] for i in (await client.get("/safe-accounts/api/queue", headers=MOD)).json()["items"]
    ] == ["a1"]


async def test_the_json_api_accepts_only_json(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    # What a cross-site form could send: refused, so the API needs no CSRF token.
    form = await client.post(
        "/safe-accounts/api/items/a1/actions", headers=MOD, data={"action": "dismiss"}
    )
    text = await client.post(
        "/safe-accounts/api/items/a1/actions",
        headers={**MOD, "content-type": "text/plain"},
        content=b'{"action": "dismiss"}',
    )
    assert form.status_code == text.status_code == 415
    broken = await client.post(
        "/safe-accounts/api/items/a1/actions",
        headers={**MOD, "content-type": "application/json"},
        content=b"{",
    )
    assert broken.status_code == 400
    assert await Moderation(engine).actions_on("a1") == []


@pytest.mark.parametrize(
    ("item", "body", "status", "kind"),
    [
        ("a1", {"action": "ban"}, 400, "invalid-action"),
        ("a1", {"note": "no action"}, 400, "invalid-action"),
        ("a1", {"action": "note", "note": 5}, 400, "invalid-action"),
        ("missing", {"action": "ack"}, 404, "unknown-item"),
    ],
)
async def test_bad_api_actions_get_a_problem(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    item: str,
    body: dict,
    status: int,
    kind: str,  # type: ignore[type-arg]
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    response = await client.post(f"/safe-accounts/api/items/{item}/actions", headers=MOD, json=body)
    assert response.status_code == status
    assert response.json()["type"].endswith(f"/{kind}")


async def test_an_unknown_item_page_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/safe-accounts/items/missing", headers=MOD)
    assert response.status_code == 404
    assert response.json()["type"].endswith("/unknown-item")


async def test_the_transparency_page_shows_figures_and_inline_svg_charts(
    client: httpx.AsyncClient, engine: AsyncEngine, clock: FrozenClock
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    clock.advance(600)
    await Moderation(engine, clock=clock).take("a1", "restrict", by="mod-1")
    page = await client.get("/safe-accounts/transparency", headers=MOD)
    assert page.status_code == 200
    assert page.text.count("<svg") == 5
    assert re.search(r'id="actions-taken">1<', page.text)
    assert "10.0 min / 10.0 min" in page.text  # first response: median / p90
    api = (
        await client.get(
            "/safe-accounts/api/transparency?from=2026-01-05&to=2026-01-11", headers=MOD
        )
    ).json()
    assert api["actions_taken"]["by_type"] == {"restrict": 1}
    assert api["time_to_first_response"]["median_seconds"] == 600


async def test_a_bad_period_is_a_400_problem(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/safe-accounts/api/transparency?from=2026-02-01&to=2026-01-01", headers=MOD
    )
    assert response.status_code == 400
    assert response.json()["type"].endswith("/invalid-period")
    assert "after it ends" in response.json()["detail"]


async def test_stored_ids_are_escaped_on_the_pages(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    hostile = '<script>alert("x")</script>'
    await raise_alert(engine, "a1", hostile, T0)
    for path in ("/safe-accounts/", "/safe-accounts/items/a1"):
        page = await client.get(path, headers=MOD)
        assert hostile not in page.text
        assert "&lt;script&gt;" in page.text
