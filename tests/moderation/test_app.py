"""The moderation app, mounted in a host app: who may use it, cases on its pages and its JSON
API, its forms (CSRF), and refusals as pages in the browser and problems on the API."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount

from safe_accounts.alerts.restrictions import Restrictions
from safe_accounts.alerts.tables import alerts
from safe_accounts.clock import FrozenClock
from safe_accounts.moderation import Moderation, moderation_app
from safe_accounts.moderation.evidence import ExportKey, verify
from safe_accounts.policy.loader import load_policy
from safe_accounts.signals.scoring import ScoreContribution

from .conftest import DISPLAY_POLICY, file_report, host_people, raise_alert
from .records import T0, alert

MOD = {"x-user": "mod-1", "x-role": "moderator"}
OTHER_MOD = {"x-user": "mod-2", "x-role": "moderator"}
USER = {"x-user": "adult-x"}
EXPORT_KEY = b"k" * 32


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
    tmp_path: Path,
) -> AsyncIterator[httpx.AsyncClient]:
    check = _is_moderator if request.param == "sync-check" else _is_moderator_async
    policy = tmp_path / "policy.yaml"
    policy.write_text(DISPLAY_POLICY)
    async with host_people(engine):
        app = moderation_app(
            engine,
            is_moderator=check,
            moderator_id=lambda r: r.headers["x-user"],
            policy=load_policy(policy).policy,
            restrictions=restrictions,
            clock=clock,
            csrf_secret=b"s" * 32,
            export_key=EXPORT_KEY,
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


async def _case_id(client: httpx.AsyncClient) -> str:
    [case] = (await client.get("/safe-accounts/api/cases", headers=MOD)).json()["cases"]
    return str(case["id"])


@pytest.mark.parametrize("path", ["/", "/items/a1", "/transparency", "/cases/x"])
async def test_non_moderators_get_a_403_page(
    client: httpx.AsyncClient, engine: AsyncEngine, path: str
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    response = await client.get(f"/safe-accounts{path}", headers=USER)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "Moderators only" in response.text and "Queue" not in response.text


@pytest.mark.parametrize("path", ["/api/cases", "/api/items/a1", "/api/transparency"])
async def test_non_moderators_get_a_403_problem_from_the_api(
    client: httpx.AsyncClient, engine: AsyncEngine, path: str
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    response = await client.get(f"/safe-accounts{path}", headers=USER)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/not-a-moderator")


async def test_non_moderators_cannot_act(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    case_id = await _case_id(client)
    api = await client.post(
        f"/safe-accounts/api/cases/{case_id}/actions", headers=USER, json={"action": "dismiss"}
    )
    form = await client.post(
        f"/safe-accounts/cases/{case_id}/actions", headers=USER, data={"action": "dismiss"}
    )
    assert api.status_code == form.status_code == 403
    assert await Moderation(engine).actions_on("a1") == []


async def test_the_queue_shows_one_case_per_account_by_the_hosts_names(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    await file_report(engine, "kid", "13_15", "adult-x", T0 + 60, text="he asked where I live")
    await file_report(engine, "kid", "13_15", "adult-y", T0 + 120)
    page = await client.get("/safe-accounts/", headers=MOD)
    assert page.status_code == 200
    assert "2 open cases" in page.text
    rows = re.findall(r'<tr class="case[^"]*">(.*?)</tr>', page.text, re.S)
    assert len(rows) == 2
    assert "Alex Turner (@alex)" in rows[0] and "1 alert (rejected-by-minors)" in rows[0]
    assert "1 report" in rows[0] and "reported by 1 under-18 account" in rows[0]
    assert "adult-y" in rows[1]  # no name in the host: its id
    assert re.search(r'href="/safe-accounts/cases/[0-9a-f]{32}"', rows[0])
    assert "signed in as Mo Reyes (@mo)" in page.text
    assert "script" not in page.text.lower()  # no scripts, no external assets
    assert page.headers["x-frame-options"] == "DENY"


async def test_a_case_page_shows_the_childs_words_the_timeline_and_the_due_time(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    await file_report(engine, "kid", "13_15", "adult-x", T0 + 60, text="he asked where I live")
    page = await client.get(f"/safe-accounts/cases/{await _case_id(client)}", headers=MOD)
    assert page.status_code == 200
    assert '<blockquote class="words">he asked where I live</blockquote>' in page.text
    assert "Reported by Kim Lee (@kim)" in page.text
    timeline = page.text[page.text.index('id="timeline"') :]
    assert "Kim Lee (@kim)" in timeline  # the alert's evidence names the child too
    # The children's report is due within 24 hours of its arrival (the default due times).
    assert "2026-01-05 00:00 UTC" in page.text  # opened with the alert
    assert re.search(r'id="due">2026-01-06 00:00 UTC, in 24.0 h', page.text)


async def test_a_risk_scores_parts_show_in_the_timeline_as_what_each_added(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    parts = [
        ScoreContribution("minors-outside-circle-requested", 3.0, 0.2, T0).to_json(),
        ScoreContribution("scattered-rejections-by-minors", 1.0, 0.5, T0).to_json(),
    ]
    async with engine.begin() as conn:
        await conn.execute(
            alerts.insert(),
            [
                alert(
                    "a1", "adult-x", "outside-circle-risk", T0, counts={"score": 1.1, "threshold": 1.0}, evidence=parts
                )
            ],
        )
    page = await client.get(f"/safe-accounts/cases/{await _case_id(client)}", headers=MOD)
    start = page.text.index('id="timeline"')
    timeline = page.text[start : page.text.index("</table>", start)]
    assert "score_part: minors-outside-circle-requested 3.0 &times; 0.2 = 0.6</td>" in timeline
    assert "score_part: scattered-rejections-by-minors 1.0 &times; 0.5 = 0.5</td>" in timeline
    assert "None" not in timeline  # no band, no other account: a dash


async def test_an_items_page_is_its_cases(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    response = await client.get("/safe-accounts/items/a1", headers=MOD)
    assert response.status_code == 303
    assert response.headers["location"] == f"/safe-accounts/cases/{await _case_id(client)}#item-a1"


async def test_claiming_then_deciding_a_case_settles_every_item_and_records_who_and_when(
    client: httpx.AsyncClient, engine: AsyncEngine, clock: FrozenClock, restrictions: Restrictions
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    report_id = await file_report(engine, "kid", "13_15", "adult-x", T0 + 60)
    case_id = await _case_id(client)
    page = await client.get(f"/safe-accounts/cases/{case_id}", headers=MOD)
    token = _token(page.text)
    claimed = await client.post(
        f"/safe-accounts/cases/{case_id}/claim", headers=MOD, data={"csrf_token": token}
    )
    assert claimed.status_code == 303
    clock.advance(90)
    done = await client.post(
        f"/safe-accounts/cases/{case_id}/actions",
        headers=MOD,
        data={"csrf_token": token, "action": "restrict", "note": "pattern"},
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/safe-accounts/cases/{case_id}"
    for item in ("a1", report_id):
        [record] = await Moderation(engine).actions_on(item)
        assert (record.action.value, record.by, record.at, record.note, record.case_id) == (
            "restrict",
            "mod-1",
            T0 + 90,
            "pattern",
            case_id,
        )
    assert restrictions.is_restricted("adult-x")
    shown = (await client.get(f"/safe-accounts/cases/{case_id}", headers=MOD)).text
    assert "decided: restrict" in shown and "pattern" in shown
    assert "you since" in shown
    assert (await client.get("/safe-accounts/api/cases", headers=MOD)).json()["cases"] == []


async def test_a_case_claimed_by_another_moderator_is_refused_until_taken_over(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    case_id = await _case_id(client)
    await client.post(f"/safe-accounts/api/cases/{case_id}/claim", headers=MOD, json={})
    page = await client.get(f"/safe-accounts/cases/{case_id}", headers=OTHER_MOD)
    assert "Mo Reyes (@mo) is working on this case" in page.text
    assert 'id="take-over-button"' in page.text and 'id="decide"' not in page.text
    token = _token(page.text)
    refused = await client.post(
        f"/safe-accounts/cases/{case_id}/actions",
        headers=OTHER_MOD,
        data={"csrf_token": token, "action": "dismiss"},
    )
    assert refused.status_code == 400
    assert "claimed by mod-1: take it over" in refused.text
    taken = await client.post(
        f"/safe-accounts/cases/{case_id}/claim",
        headers=OTHER_MOD,
        data={"csrf_token": token, "take_over": "yes"},
    )
    assert taken.status_code == 303
    acted = await client.post(
        f"/safe-accounts/cases/{case_id}/actions",
        headers=OTHER_MOD,
        data={"csrf_token": token, "action": "dismiss"},
    )
    assert acted.status_code == 303
    events = (await client.get(f"/safe-accounts/api/cases/{case_id}", headers=MOD)).json()["events"]
    assert [(e["kind"], e["by"], e["note"]) for e in events] == [
        ("claimed", "mod-1", None),
        ("claimed", "mod-2", "from mod-1"),
    ]


@pytest.mark.parametrize("token", [None, "", "garbage", "1800000000.abcdef"])
async def test_a_form_without_a_valid_token_is_an_error_page_and_changes_nothing(
    client: httpx.AsyncClient, engine: AsyncEngine, token: str | None
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    case_id = await _case_id(client)
    data = {"action": "dismiss"} if token is None else {"action": "dismiss", "csrf_token": token}
    response = await client.post(f"/safe-accounts/cases/{case_id}/actions", headers=MOD, data=data)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "This form has expired" in response.text
    assert f'href="/safe-accounts/cases/{case_id}"' in response.text  # back to the case
    assert await Moderation(engine).actions_on("a1") == []


async def test_one_moderators_token_is_no_use_to_another_and_a_stale_one_to_anyone(
    client: httpx.AsyncClient, engine: AsyncEngine, clock: FrozenClock
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    case_id = await _case_id(client)
    token = _token((await client.get(f"/safe-accounts/cases/{case_id}", headers=MOD)).text)
    other = await client.post(
        f"/safe-accounts/cases/{case_id}/claim", headers=OTHER_MOD, data={"csrf_token": token}
    )
    clock.advance(13 * 3600)
    stale = await client.post(
        f"/safe-accounts/cases/{case_id}/claim", headers=MOD, data={"csrf_token": token}
    )
    assert other.status_code == stale.status_code == 403


async def test_the_json_api_lists_shows_claims_acts_holds_and_exports(
    client: httpx.AsyncClient, engine: AsyncEngine, clock: FrozenClock
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    report_id = await file_report(engine, "kid", "13_15", "adult-x", T0 + 60, text="scared")

    listed = (await client.get("/safe-accounts/api/cases", headers=MOD)).json()
    assert (listed["count"], listed["open"], listed["overdue"]) == (1, 1, 0)
    [case] = listed["cases"]
    assert case["account"] == {"id": "adult-x", "display_name": "Alex Turner", "handle": "alex"}
    assert case["items"] == {"alerts": 1, "reports": 1}
    assert case["due_at"] == T0 + 86_400  # the alert's (the report's is a minute later)

    claimed = await client.post(f"/safe-accounts/api/cases/{case['id']}/claim", headers=MOD, json={})
    assert claimed.json()["claimed_by"] == "mod-1"
    held = await client.post(
        f"/safe-accounts/api/cases/{case['id']}/hold", headers=MOD, json={"note": "police ref 42"}
    )
    assert held.json()["legal_hold"] == {"at": T0, "by": "mod-1", "note": "police ref 42"}

    clock.advance(300)
    created = await client.post(
        f"/safe-accounts/api/cases/{case['id']}/actions",
        headers=MOD,
        json={"action": "warn", "note": "first warning"},
    )
    assert created.status_code == 201
    record = created.json()
    assert {k: record[k] for k in ("case_id", "action", "by", "at", "note")} == {
        "case_id": case["id"],
        "action": "warn",
        "by": "mod-1",
        "at": T0 + 300,
        "note": "first warning",
    }
    detail = (await client.get(f"/safe-accounts/api/cases/{case['id']}", headers=MOD)).json()
    assert (detail["status"], detail["outcome"]) == ("resolved", "warn")
    assert {i["id"]: i["status"] for i in detail["item_list"]} == {"a1": "resolved", report_id: "resolved"}
    item = (await client.get(f"/safe-accounts/api/items/{report_id}", headers=MOD)).json()
    assert (item["case_id"], item["status"]) == (case["id"], "resolved")

    bundle = (await client.post(f"/safe-accounts/api/cases/{case['id']}/export", headers=MOD, json={})).json()
    assert verify(bundle, ExportKey(EXPORT_KEY)) == []
    assert bundle["account"]["display_name"] == "Alex Turner"
    events = (await client.get(f"/safe-accounts/api/cases/{case['id']}", headers=MOD)).json()["events"]
    assert events[-1]["kind"] == "exported" and events[-1]["note"] == bundle["integrity"]["digest"]


async def test_the_evidence_bundle_downloads_from_the_case_page(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    case_id = await _case_id(client)
    token = _token((await client.get(f"/safe-accounts/cases/{case_id}", headers=MOD)).text)
    download = await client.post(
        f"/safe-accounts/cases/{case_id}/evidence", headers=MOD, data={"csrf_token": token}
    )
    assert download.status_code == 200
    assert download.headers["content-disposition"] == (
        f'attachment; filename="case-{case_id}-evidence.json"'
    )
    assert verify(json.loads(download.content), ExportKey(EXPORT_KEY)) == []


async def test_the_json_api_accepts_only_json(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    case_id = await _case_id(client)
    # What a cross-site form could send: refused, so the API needs no CSRF token.
    form = await client.post(
        f"/safe-accounts/api/cases/{case_id}/actions", headers=MOD, data={"action": "dismiss"}
    )
    text = await client.post(
        "/safe-accounts/api/items/a1/actions",
        headers={**MOD, "content-type": "text/plain"},
        content=b'{"action": "dismiss"}',
    )
    assert form.status_code == text.status_code == 415
    broken = await client.post(
        f"/safe-accounts/api/cases/{case_id}/actions",
        headers={**MOD, "content-type": "application/json"},
        content=b"{",
    )
    assert broken.status_code == 400
    assert await Moderation(engine).actions_on("a1") == []


@pytest.mark.parametrize(
    ("path", "body", "status", "kind"),
    [
        ("cases/{case}/actions", {"action": "ban"}, 400, "invalid-action"),
        ("cases/{case}/actions", {"note": "no action"}, 400, "invalid-action"),
        ("cases/{case}/actions", {"action": "note", "note": 5}, 400, "invalid-action"),
        ("cases/{case}/hold", {"note": ""}, 400, "invalid-action"),
        ("cases/missing/actions", {"action": "ack"}, 404, "unknown-item"),
        ("items/a1/actions", {"action": "ban"}, 400, "invalid-action"),
        ("items/missing/actions", {"action": "ack"}, 404, "unknown-item"),
    ],
)
async def test_bad_api_requests_get_a_problem(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    path: str,
    body: dict,  # type: ignore[type-arg]
    status: int,
    kind: str,
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    url = "/safe-accounts/api/" + path.format(case=await _case_id(client))
    response = await client.post(url, headers=MOD, json=body)
    assert response.status_code == status
    assert response.json()["type"].endswith(f"/{kind}")


@pytest.mark.parametrize("path", ["/cases/missing", "/items/missing"])
async def test_an_unknown_case_is_a_404_page_that_leads_back_to_the_queue(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(f"/safe-accounts{path}", headers=MOD)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "No such case or item" in response.text
    assert 'id="problem-back" href="/safe-accounts/"' in response.text
    api = await client.get(f"/safe-accounts/api{path}", headers=MOD)
    assert api.status_code == 404 and api.json()["type"].endswith("/unknown-item")


async def test_the_transparency_page_shows_figures_and_labelled_charts(
    client: httpx.AsyncClient, engine: AsyncEngine, clock: FrozenClock
) -> None:
    await raise_alert(engine, "a1", "adult-x", T0)
    clock.advance(600)
    await Moderation(engine, clock=clock).take("a1", "restrict", by="mod-1")
    page = await client.get("/safe-accounts/transparency", headers=MOD)
    assert page.status_code == 200
    assert page.text.count("<svg") == 5
    assert page.text.count("Week starting (Monday, UTC)") == 5  # every x axis says what it is
    assert ">reports</text>" in page.text and ">median time</text>" in page.text  # y axes too
    assert re.search(r'id="actions-taken">1<', page.text)
    assert re.search(r'id="within-due">1 \(100%\)', page.text)
    assert "10.0 min / 10.0 min" in page.text  # first response: median / p90
    # The default period is the last 12 weeks, as `report transparency` without dates.
    assert "Transparency report: 2025-10-20 to 2026-01-05" in page.text
    api = (
        await client.get(
            "/safe-accounts/api/transparency?from=2026-01-05&to=2026-01-11", headers=MOD
        )
    ).json()
    assert api["actions_taken"]["by_type"] == {"restrict": 1}
    assert api["time_to_first_response"]["median_seconds"] == 600
    assert api["due_times"] == {
        "decided": 1,
        "within_due": 1,
        "share_within_due": 1.0,
        "overdue_at_end": 0,
    }


async def test_a_bad_date_is_a_400_page_in_the_words_of_the_form(client: httpx.AsyncClient) -> None:
    page = await client.get("/safe-accounts/transparency?from=someday&to=2026-01-01", headers=MOD)
    assert page.status_code == 400
    assert page.headers["content-type"].startswith("text/html")
    assert "From &#39;someday&#39; is not a date" in page.text
    assert "--" not in page.text  # never a command-line flag
    response = await client.get(
        "/safe-accounts/api/transparency?from=2026-02-01&to=2026-01-01", headers=MOD
    )
    assert response.status_code == 400
    assert response.json()["type"].endswith("/invalid-period")
    assert "after it ends" in response.json()["detail"]


async def test_stored_ids_and_words_are_escaped_on_the_pages(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    hostile = '<script>alert("x")</script>'
    await raise_alert(engine, "a1", hostile, T0)
    await file_report(engine, "kid", "13_15", hostile, T0, text=hostile)
    for path in ("/safe-accounts/", f"/safe-accounts/cases/{await _case_id(client)}"):
        page = await client.get(path, headers=MOD)
        assert hostile not in page.text
        assert "&lt;script&gt;" in page.text
