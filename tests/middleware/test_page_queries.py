"""A page's misses are read in a few queries whatever its length: every listed account's band in
one, the viewer's connections once per question asked about them (the rules', the notices')."""

from __future__ import annotations

from tests.bands.sql import statements

from .conftest import ACCOUNTS, Wrapped


async def test_a_cold_page_reads_its_bands_in_one_query_and_asks_each_connection_question_once(
    wrapped: Wrapped,
) -> None:
    engine = wrapped.middleware.engine
    runtime = await wrapped.middleware.start()
    await runtime.bands.get("kid")  # the viewer's own band is read with the request, before its answer
    with statements(engine, "safe_accounts_age_bands") as bands, statements(engine, "host_friendships") as friends:
        answer = await wrapped.get("/api/search", "kid", params={"q": "a"})
    assert answer.status_code == 200
    assert len(bands) == 1  # all of the page's accounts
    # `connected` once for the listed minors the rules ask about, once for the listed adults
    # the viewer's safety notices ask about: never once per account.
    assert len([s for s in friends if "JOIN" not in s]) == 2
    assert all(runtime.bands.cached(account) is not None for account in ACCOUNTS)
