"""The demo app in a real browser (headless Chromium), bare and behind Safe Accounts.

Bare: the persona log-in, the forms posted by the pages' script, a refusal shown in place.
Wrapped (what `make demo` serves): the stranger is refused when messaging a child and does
not find the children in search. Each runs `python -m demo_app [--bare]` as a real server
on a free port; screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from demo_support import served_demo

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]



ARTIFACTS = REPO / "tests" / "artifacts"


@contextlib.contextmanager
def serving(tmp_path: Path, *, bare: bool) -> Iterator[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DEMO_APP_SECRET": "a-browser-test-key-long-enough-for-hs256",
    }
    env.pop("SAFE_ACCOUNTS_REDIS_URL", None)  # the embedded default, as `make demo` runs
    with served_demo(["--bare"] if bare else [], tmp_path, env) as base:
        yield base


@pytest.fixture(params=["bare"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with serving(tmp_path, bare=request.param == "bare") as base:
        yield base


@pytest.fixture
async def page(server: str) -> AsyncIterator[object]:
    playwright_api = pytest.importorskip("playwright.async_api")
    if not Path(CHROMIUM).exists():  # noqa: ASYNC240 - one stat, before any browser runs
        pytest.skip(f"{CHROMIUM} is not installed (Debian package `chromium`)")
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = await browser.new_page(base_url=server)
            yield page
        finally:
            await browser.close()


async def log_in(page, name: str) -> None:  # type: ignore[no-untyped-def]
    await page.goto("/login")
    await page.click(f"text=Log in as {name}")
    await page.wait_for_url("**/")


async def test_a_stranger_and_a_child_click_through_the_bare_app(page) -> None:  # type: ignore[no-untyped-def]
    await log_in(page, "Alex Turner")
    await page.goto("/search?q=patel")
    mia = page.locator("li", has_text="Mia Patel")
    await mia.locator("text=Add friend").click()
    await page.wait_for_url("**notice=*")
    assert await page.locator("#notice").inner_text() == "Friend request sent to Mia Patel."

    # The same request again is refused: the problem shows in place, the page stays.
    before = page.url
    await page.locator("li", has_text="Mia Patel").locator("text=Add friend").click()
    await page.wait_for_function("document.querySelector('#notice').className.includes('error')")
    assert await page.locator("#notice").inner_text() == (
        "Conflict: you have already sent this account a friend request"
    )
    assert page.url == before

    await page.goto("/accounts/1")
    await page.fill("#message-form textarea", "hello mia")
    await page.click("#message-form button")
    await page.wait_for_url("**/conversations/*")
    assert await page.locator(".message").all_inner_texts() == ["Alex Turner: hello mia"]

    await page.click("text=Log out")
    await page.wait_for_url("**/login")
    await log_in(page, "Mia Patel")
    request = page.locator("li", has_text="Alex Turner")
    await request.locator("text=Reject").click()
    await page.wait_for_url("**notice=*")
    assert await page.locator("#notice").inner_text() == "Request from Alex Turner rejected."


@pytest.mark.parametrize("server", ["wrapped"], indirect=True)
async def test_behind_safe_accounts_the_stranger_cannot_message_or_find_a_child(page) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    await log_in(page, "Alex Turner")

    # Leo (14) is not the stranger's connection: the message is refused in place.
    await page.goto("/accounts/2")
    await page.fill("#message-form textarea", "hi leo, want to chat?")
    await page.click("#message-form button")
    await page.wait_for_function("document.querySelector('#notice').className.includes('error')")
    notice = await page.locator("#notice").inner_text()
    assert "Not allowed" in notice and "connected" in notice
    await page.screenshot(path=str(ARTIFACTS / "demo-stranger-dm-refused.png"), full_page=True)

    # Search for the family name: only the parent is there, the children are gone.
    await page.goto("/search?q=patel")
    results = await page.locator("main li").all_inner_texts()
    assert any("Sam Patel" in r for r in results)
    assert not any("Mia Patel" in r or "Leo Patel" in r for r in results)
    await page.screenshot(path=str(ARTIFACTS / "demo-stranger-search.png"), full_page=True)

    # Mia (12) is hidden outright: her profile does not exist for the stranger.
    response = await page.goto("/accounts/1")
    assert response is not None and response.status == 404
