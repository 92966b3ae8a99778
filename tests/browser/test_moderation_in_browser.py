"""A moderator in a real browser (headless Chromium, Debian's package): logs in to the host
app, opens the case of a grooming alert raised over the wire, restricts the account, and
finds the action and its response time on the transparency page.

The host app is wrapped by the middleware, with the moderation app mounted at
/safe-accounts, and served by uvicorn on a free loopback port. Time is a FrozenClock, so
the response time shown is exactly the 2.5 minutes the test lets pass.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.clock import FrozenClock
from safe_accounts.moderation import moderation_app, restrictions_of
from safe_accounts.runtime.signals_wiring import attach_grooming_alerts

from ..middleware.conftest import POLICY, HostApp, drop_host_tables, seed

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
MODERATORS = {"mod-1"}
START = 1_800_000_000.0


def free_socket() -> socket.socket:
    """A loopback socket on a port the OS picked, handed to uvicorn: no race for the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def _chromium() -> str:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is not installed (Debian package `chromium`)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI=true needs it", pytrace=False)
        pytest.skip(message)
    return CHROMIUM


async def _login_form(request: Request) -> Response:
    return HTMLResponse(
        '<form method="post" action="/login"><label>Name <input id="name" name="name"></label>'
        "<button>Log in</button></form>"
    )


async def _login(request: Request) -> Response:
    name = str((await request.form()).get("name", ""))
    response = RedirectResponse("/safe-accounts/", status_code=303)
    response.set_cookie("moderator", name, httponly=True, samesite="lax")
    return response


@pytest.fixture
async def site(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> AsyncIterator[dict[str, Any]]:
    clock = FrozenClock(START)
    await seed(engine, clock)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    host = HostApp().build()
    middleware = SafeAccountsMiddleware(
        host,
        policy=policy,
        database_url=database_url,
        clock=clock,
        signals=attach_grooming_alerts(flush_interval=0.01),
    )
    host.router.routes += [
        Route("/login", _login_form),
        Route("/login", _login, methods=["POST"]),
        Mount(
            "/safe-accounts",
            moderation_app(
                middleware.engine,
                # The host's authentication: a cookie its log-in set.
                is_moderator=lambda r: r.cookies.get("moderator") in MODERATORS,
                moderator_id=lambda r: r.cookies["moderator"],
                restrictions=restrictions_of(middleware),
                clock=clock,
                csrf_secret=b"browser-test-secret-32-bytes-long",
            ),
        ),
    ]
    sock = free_socket()
    server = uvicorn.Server(uvicorn.Config(middleware, lifespan="on", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield {
            "base": f"http://127.0.0.1:{sock.getsockname()[1]}",
            "clock": clock,
            "middleware": middleware,
        }
    finally:
        server.should_exit = True
        await task
        sock.close()
        await drop_host_tables(engine)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_moderator_restricts_an_alerted_account_and_sees_it_in_the_transparency_report(
    site: dict[str, Any],
) -> None:
    from playwright.async_api import async_playwright

    base, clock, middleware = site["base"], site["clock"], site["middleware"]
    ARTIFACTS.mkdir(exist_ok=True)

    # An adult stranger tries to message three children: three refusals, one alert.
    async with httpx.AsyncClient(base_url=base) as client:
        for child in ("kid", "young", "teen"):
            refused = await client.post(
                "/api/v1/messages",
                json={"to": child, "text": "hi"},
                headers={"x-account-id": "adult"},
            )
            assert refused.status_code == 403
    alerts = middleware.runtime.alerts
    await alerts.recorder.flush()
    assert [a.signal for a in await alerts.service.list()] == ["denied-dms-to-minors"]
    assert not middleware.runtime.restrictions.is_restricted("adult")

    clock.advance(150)  # the moderator gets to it two and a half minutes later

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(base_url=base)
            await page.goto("/login")
            await page.fill("#name", "mod-1")
            await page.click("text=Log in")
            await page.wait_for_url("**/safe-accounts/")
            assert "signed in as mod-1" in await page.inner_text("header")
            await page.screenshot(path=ARTIFACTS / "moderation-1-queue.png", full_page=True)

            # One case for the account, holding its alert.
            assert "1 alert (denied-dms-to-minors)" in await page.inner_text("tr.case")
            await page.click("tr.case >> a")
            await page.wait_for_url("**/safe-accounts/cases/*")
            timeline = await page.inner_text("main")
            assert "direct_message_denied" in timeline and "under_13" in timeline
            await page.screenshot(path=ARTIFACTS / "moderation-2-alert.png", full_page=True)

            await page.fill("#note", "tried three children in a day")
            await page.click("#decide button[value=restrict]")
            await page.wait_for_load_state()
            shown = await page.inner_text("main")
            assert "tried three children in a day" in shown and "mod-1" in shown
            await page.screenshot(path=ARTIFACTS / "moderation-3-restricted.png", full_page=True)
            # The enforcement knows at once: the middleware's own restriction set.
            assert middleware.runtime.restrictions.is_restricted("adult")

            await page.goto("/safe-accounts/transparency")
            assert await page.inner_text("#actions-taken") == "1"
            assert await page.inner_text("td[data-action=restrict]") == "1"
            assert await page.inner_text("#first-response") == "2.5 min / 2.5 min"
            assert await page.inner_text("#alerts-raised") == "1"
            assert (await page.inner_text("#accounts-restricted")).split()[0] == "1"
            assert await page.locator("svg.chart").count() == 5
            await page.screenshot(path=ARTIFACTS / "moderation-4-transparency.png", full_page=True)

            # Errors are pages a moderator can act on, never JSON, never a command-line flag.
            response = await page.goto("/safe-accounts/transparency?from=someday")
            assert response is not None and response.status == 400
            assert "From 'someday' is not a date" in await page.inner_text("#problem-detail")
            assert "--" not in await page.inner_text("main")
            response = await page.goto("/safe-accounts/cases/no-such-case")
            assert response is not None and response.status == 404
            await page.click("#problem-back")
            await page.wait_for_url("**/safe-accounts/")
            # The decided case, through its alert's address.
            [alert] = await middleware.runtime.alerts.service.list()
            await page.goto(f"/safe-accounts/items/{alert.id}")
            await page.wait_for_url("**/safe-accounts/cases/*")
            clock.advance(13 * 3600)  # the page's form is now older than a form may be
            await page.fill("textarea#note", "too late")
            await page.click("button[value=note]")
            assert "This form has expired" in await page.inner_text("main")
            assert await page.inner_text("#problem-back") == "Back to the case"
        finally:
            await browser.close()
