"""The driver's contact with the machine: a 503 from a busy machine is retried at the same
simulated moment and leaves no trace in the figures."""

from __future__ import annotations

from typing import Any

import httpx

from demo_app.simulation.driver import Driver


def _busy_then_fine(busy: int) -> Any:
    calls = {"n": 0}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls["n"] += 1
        status = 503 if calls["n"] <= busy else 201
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


async def _nothing() -> None:
    return None


async def test_a_503_is_sent_again_and_only_the_answer_after_it_counts() -> None:
    transport = httpx.ASGITransport(app=_busy_then_fine(busy=2))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        driver = Driver(client, society=None, flush=_nothing, days=1, tokens=None)  # type: ignore[arg-type]
        # One request through the driver's retrying send, without a simulated day around it.
        response = await driver._send("POST", "/api/messages", {}, json={"to": 1})  # noqa: SLF001
    assert response.status_code == 201
    assert driver.journal.retried == 2


async def test_a_machine_that_stays_busy_gives_up_with_the_503() -> None:
    transport = httpx.ASGITransport(app=_busy_then_fine(busy=1000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        driver = Driver(client, society=None, flush=_nothing, days=1, tokens=None)  # type: ignore[arg-type]
        response = await driver._send("GET", "/api/search", {})  # noqa: SLF001 - as above
    assert response.status_code == 503


def test_a_restricted_account_finds_out_from_the_policys_neutral_notice() -> None:
    from demo_app.simulation.driver import _refused_as_restricted

    notice = "This is not available to your account at the moment."

    def answer(status: int, body: dict[str, Any]) -> httpx.Response:
        return httpx.Response(status, json=body)

    assert _refused_as_restricted(answer(403, {"detail": notice}), notice)
    # Another refusal (a stranger's DM to a child) is not a restriction; nor is a 404.
    assert not _refused_as_restricted(answer(403, {"detail": "Only connections."}), notice)
    assert not _refused_as_restricted(answer(404, {"detail": notice}), notice)
    assert not _refused_as_restricted(httpx.Response(403, text="not json"), notice)
