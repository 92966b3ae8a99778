"""The story of docs/demo.md, walked in a real browser (headless Chromium) as written: the
stranger's refused message and hidden search, the children's safety notices, report and
rejections, the alert and the restriction, then the moderator's queue, case, suspension,
legal hold, evidence and transparency page, and the suspension felt in the app.

`python -m demo_app` serves on a free port from an empty folder, exactly as `make demo`
does (SQLite, no Redis). Each numbered step matches the document's; `make demo-shots` runs
this test with DEMO_SHOTS=docs/demo-shots, writing the screenshots the document links.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from demo_support import ID, served_demo

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
HEALTH = "/.well-known/safe-accounts/health"
INCOMING = "li:has(form[action$='/accept'])"  # an incoming friend request on the home page



@contextlib.contextmanager
def make_demo(folder: Path) -> Iterator[str]:
    """`python -m demo_app` in `folder`, as `make demo` runs it, on a free port."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for name in (
        "SAFE_ACCOUNTS_REDIS_URL",
        "SAFE_ACCOUNTS_DATABASE_URL",
        "DEMO_APP_DATABASE_URL",
        "DEMO_APP_SECRET",
        "SAFE_ACCOUNTS_EXPORT_KEY",
        "SAFE_ACCOUNTS_CSRF_SECRET",
    ):
        env.pop(name, None)
    with served_demo([], folder, env) as base:
        yield base


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("DEMO_SHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
async def story(tmp_path: Path) -> AsyncIterator[tuple[Any, str, Path]]:
    playwright_api = pytest.importorskip("playwright.async_api")
    if not Path(CHROMIUM).exists():  # noqa: ASYNC240 - one stat, before any browser runs
        message = f"{CHROMIUM} is not installed (Debian package `chromium`)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI=true needs it", pytrace=False)
        pytest.skip(message)
    folder = tmp_path / "demo"
    folder.mkdir()
    with make_demo(folder) as base:
        async with playwright_api.async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                context = await browser.new_context(
                    base_url=base, accept_downloads=True, viewport={"width": 1100, "height": 900}
                )
                yield await context.new_page(), base, folder
            finally:
                await browser.close()


async def log_out(page: Any) -> None:
    await page.click("header >> text=Log out")
    await page.wait_for_url("**/login")


async def log_in(page: Any, name: str) -> None:
    await page.goto("/login")
    await page.click(f"text=Log in as {name}")
    await page.wait_for_url("**/")


async def notice_after(page: Any, selector: str) -> str:
    """Click `selector` (a form's button) and read the page's notice: a refusal shown in place,
    or the next page's notice after the redirect the form asks for."""
    await page.evaluate("window.__posted = true")
    await page.click(selector)
    await page.wait_for_function(
        """() => {
            const notice = document.querySelector('#notice');
            return notice && notice.textContent.trim() !== ''
                && (!window.__posted || notice.className.includes('error'));
        }"""
    )
    return str(await page.locator("#notice").inner_text())


async def wait_for_restriction(base: str) -> None:
    """The alert is raised off the request path: wait until the middleware enforces it."""
    deadline = time.monotonic() + 20
    async with httpx.AsyncClient(base_url=base) as client:
        while time.monotonic() < deadline:
            health = (await client.get(HEALTH)).json()
            if health.get("alerts", {}).get("restricted_accounts") == 1:
                return
            await asyncio.sleep(0.2)
    pytest.fail(f"no account was restricted: {health}")


async def test_the_demo_story_from_the_strangers_first_search_to_the_moderators_report(
    story: tuple[Any, str, Path], shots: Path
) -> None:
    page, base, folder = story

    async def shot(name: str) -> None:
        await page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

    # --- The stranger -----------------------------------------------------------------
    # 1. Only the father is found; the children are gone.
    await log_in(page, "Alex Turner")
    await page.goto("/search?q=patel")
    found = await page.locator("main li").all_inner_texts()
    assert any("Sam Patel" in f for f in found)
    assert not any(child in " ".join(found) for child in ("Mia", "Leo", "Ava", "Zoe"))
    await shot("01-stranger-search")

    # 2. Mia (12) does not exist for him; Leo's (14) details are hidden.
    assert (await page.goto(f"/accounts/{ID['mia']}")).status == 404
    assert "Profile not available" in await page.content()
    await page.goto(f"/accounts/{ID['leo']}")
    assert await page.locator("dd", has_text="hidden").count() == 3

    # 3. His message to Leo is refused on the page, with the policy's reason.
    await page.fill("#message-form textarea", "hi leo, want to chat?")
    refused = await notice_after(page, "#message-form button")
    assert refused == "Not allowed: This account only accepts messages from people it is connected with."
    await shot("02-message-refused")

    # 4. Friend requests to Leo, Ava and Zoe go out.
    for child in ("leo", "ava", "zoe"):
        await page.goto(f"/accounts/{ID[child]}")
        sent = await notice_after(page, "button:text-is('Add friend')")
        assert sent.startswith("Friend request sent to")
    await shot("03-requests-sent")

    # --- The children -----------------------------------------------------------------
    # 5. Leo sees the safety notice on Alex's request, and on the minibus driver in his
    #    trip group; he rejects the request.
    await log_out(page)
    await log_in(page, "Leo Patel")
    notice = "You have no friends in common with this account. Only accept people you know."
    assert notice in await page.locator(INCOMING, has_text="Alex Turner").inner_text()
    await shot("04-leo-sees-the-notice")
    await page.goto("/conversations")
    await page.click("text=Riverside trip")
    assert "Tom Reid: You have no friends in common with this account." in (
        await page.locator("p.safety").inner_text()
    )
    await shot("05-leo-group-notice")
    await page.goto("/")
    assert await notice_after(page, f"{INCOMING}:has-text('Alex Turner') >> button:text-is('Reject')") == (
        "Request from Alex Turner rejected."
    )

    # 6. Zoe sees the same notice, and accepts anyway.
    await log_out(page)
    await log_in(page, "Zoe Clarke")
    assert notice in await page.locator(INCOMING, has_text="Alex Turner").inner_text()
    await shot("06-zoe-sees-the-notice")
    assert await notice_after(page, f"{INCOMING}:has-text('Alex Turner') >> button:text-is('Accept')") == (
        "You and Alex Turner are now friends."
    )

    # 7. Alex, now her friend, messages her.
    await log_out(page)
    await log_in(page, "Alex Turner")
    await page.goto(f"/accounts/{ID['zoe']}")
    await page.fill("#message-form textarea", "You seem really mature for your age. Where do you live?")
    await page.click("#message-form button")
    await page.wait_for_url("**/conversations/*")

    # 8. Zoe reads it and reports him in her own words.
    await log_out(page)
    await log_in(page, "Zoe Clarke")
    await page.goto("/conversations")
    await page.click("text=Alex Turner")
    assert "Where do you live?" in await page.content()
    await page.goto(f"/accounts/{ID['stranger']}")
    await page.fill("input[name=reason]", "He keeps asking where I live and for photos.")
    reported = await notice_after(page, "form[action='/web/reports'] button")
    assert reported == "Thank you: the report was sent to the moderators."
    await shot("07-zoe-reports")

    # 9. Ava rejects too: two of his three requests turned down - the alert is raised and
    #    Alex is restricted.
    await log_out(page)
    await log_in(page, "Ava Jones")
    await notice_after(page, f"{INCOMING}:has-text('Alex Turner') >> button:text-is('Reject')")
    await wait_for_restriction(base)

    # 10. Alex is refused in neutral words, even towards his new friend Zoe, whose profile
    #     has gone from his view.
    await log_out(page)
    await log_in(page, "Alex Turner")
    assert (await page.goto(f"/accounts/{ID['zoe']}")).status == 404
    await page.goto("/conversations")
    await page.click("a:has-text('Zoe Clarke')")
    await page.fill("form[action$='/messages'] textarea", "why aren't you answering?")
    told = await notice_after(page, "form[action$='/messages'] button")
    assert told == "Not allowed: This is not available to your account at the moment."
    await shot("08-restricted")

    # --- The moderator ----------------------------------------------------------------
    # 11. Jo's queue: one case about Alex, restricted, due within a day.
    await log_out(page)
    await log_in(page, "Jo Fletcher")
    await page.click("header >> text=Moderation")
    await page.wait_for_url("**/moderation/")
    [row] = await page.locator("tr.case").all_inner_texts()
    assert "Alex Turner (@stranger)" in row and "restricted" in row
    assert "1 alert (early-rejections-from-minors)" in row and "1 report" in row
    assert "in 24.0 h" in row or "in 23." in row
    await shot("09-queue")

    # 12. The case: Zoe's words and the named timeline; claimed, then suspended.
    await page.click("text=Alex Turner (@stranger)")
    case = await page.content()
    assert "He keeps asking where I live and for photos." in case
    assert "Reported by Zoe Clarke (@zoe)" in case
    timeline = await page.locator("#timeline").inner_text()
    assert "Leo Patel (@leo)" in timeline and "Ava Jones (@ava)" in timeline
    await page.click("#claim-button")
    await page.fill("#note", "Pattern across three children; Zoe's report describes grooming.")
    await page.click("#decide >> text=Suspend")
    await page.wait_for_selector("#case-status:has-text('decided: suspend')")
    actions = await page.locator("#actions").inner_text()
    assert "suspended by the host; handed to the host's callback" in actions
    await shot("10-case-decided")

    # 13. A legal hold, and the signed evidence bundle, checked from the command line.
    await page.fill("#hold-note", "police ref 2026/118")
    await page.click("#hold-button")
    assert "police ref 2026/118" in await page.locator("#hold").inner_text()
    async with page.expect_download() as downloading:
        await page.click("#export-button")
    download = await downloading.value
    bundle_file = folder / download.suggested_filename
    await download.save_as(bundle_file)
    bundle = json.loads(bundle_file.read_text())
    assert bundle["account"] == {"id": str(ID["stranger"]), "display_name": "Alex Turner", "handle": "stranger"}
    assert [r["text"] for r in bundle["reports"]] == ["He keeps asking where I live and for photos."]
    checked = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "safe_accounts.cli", "moderate", "verify", bundle_file.name],
        cwd=folder,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert checked.returncode == 0 and "intact" in checked.stdout, checked.stderr
    await shot("11-legal-hold")

    # 14. The transparency page, the same figures the regulator's report holds.
    await page.click("header >> text=Transparency")
    figures = {
        name: await page.locator(f"#{name}").inner_text()
        for name in ("reports-received", "alerts-raised", "accounts-restricted", "actions-taken", "within-due")
    }
    assert figures["reports-received"] == "1" and figures["alerts-raised"] == "1"
    assert figures["accounts-restricted"].startswith("1") and figures["actions-taken"] == "1"
    assert figures["within-due"].startswith("2 (100%)")  # the alert and the report, in time
    assert await page.locator("svg.chart").count() == 5
    await shot("12-transparency")

    # 15. The suspension is the app's own: Alex cannot log in.
    await page.goto("/")
    await log_out(page)
    assert "suspended" in await page.locator("li", has_text="Alex Turner").inner_text()
    refused_login = await notice_after(page, "text=Log in as Alex Turner")
    assert refused_login == "Account suspended: this account has been suspended by the app's moderators"
    await shot("13-suspended")
