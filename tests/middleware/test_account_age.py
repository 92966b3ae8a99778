"""A condition on how old the actor's account is (`actor_account_age_days`), from the host
app's own users table (`accounts.created_at`), end to end: the policy file, the request,
the decision row, `policy test` and `policy explain`.

The rule here: an account younger than a week may not message a minor, even one it is
connected with (an account made to befriend a child, then message it, is a pattern).
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts import FrozenClock, PolicyError, SafeAccountsMiddleware
from safe_accounts.decide.facts import Facts
from safe_accounts.decide.request import decide
from safe_accounts.pipeline.compiled import CompiledPolicy
from safe_accounts.policy import load_policy
from safe_accounts.policy.model import Action
from safe_accounts.policy_tools.explain import explain
from safe_accounts.policy_tools.testing import run_tests

from .conftest import POLICY, HostApp, Wrapped, drop_host_tables, seed

NOW = 1_800_000_000
DAY = 86_400

AGE_RULE = textwrap.dedent(
    """
    accounts:
      created_at: {sql: "SELECT created_at FROM aa_users WHERE id = :account"}
      cache_seconds: 3600
    rules:
      - id: new-account-dm-to-minor
        action: direct_message
        when: {target_band: [minor], actor_account_age_days: {max: 7}}
        then: deny
        reason: New accounts cannot message under-18s yet.
    tests:
      - name: a parent's week-old account cannot message the child it is connected with
        accounts: {parent: adult, kid: "13_15"}
        connections: [[parent, kid]]
        account_age_days: {parent: 3}
        actor: parent
        action: direct_message
        target: kid
        expect: deny
        rule: new-account-dm-to-minor
      - name: an older account can
        accounts: {parent: adult, kid: "13_15"}
        connections: [[parent, kid]]
        account_age_days: {parent: 30}
        actor: parent
        action: direct_message
        target: kid
        expect: allow
    """
)


def policy_with_age(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY + AGE_RULE)
    return path


# Creation dates as a host table holds them: a timestamp, a date; "teen" has a row and no date.
CREATED = {
    "parent": datetime.fromtimestamp(NOW - 3 * DAY, UTC).replace(tzinfo=None).isoformat(sep=" "),
    "other-adult": "2020-01-01",
    "teen": None,
}


@pytest.fixture
async def aged(engine: AsyncEngine, database_url: str, tmp_path: Path) -> AsyncIterator[Wrapped]:
    clock = FrozenClock(NOW)
    await seed(engine, clock)
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE IF EXISTS aa_users")
        await conn.exec_driver_sql("CREATE TABLE aa_users (id VARCHAR(64) PRIMARY KEY, created_at TIMESTAMP)")
        for account, created in CREATED.items():
            value = "NULL" if created is None else f"'{created}'"
            await conn.exec_driver_sql(f"INSERT INTO aa_users VALUES ('{account}', {value})")
    host = HostApp()
    middleware = SafeAccountsMiddleware(
        host.build(), policy=policy_with_age(tmp_path), database_url=database_url, clock=clock, signals=None
    )
    await middleware.start()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=middleware), base_url="http://t") as client:
        yield Wrapped(host, middleware, client)
    await middleware.close()
    await drop_host_tables(engine)
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE IF EXISTS aa_users")


def facts(w: Wrapped) -> Facts:
    assert w.middleware.runtime is not None
    return w.middleware.runtime.facts


async def test_a_new_account_cannot_message_a_child_even_one_it_is_connected_with(aged: Wrapped) -> None:
    refused = await aged.post("/api/v1/messages", "parent", json={"to": "kid"})
    assert refused.status_code == 403 and refused.json()["rule"] == "new-account-dm-to-minor"
    [row] = [r for r in await aged.decisions() if r["rule"] == "new-account-dm-to-minor"]
    assert (row["actor_id"], row["target_id"], row["status"]) == ("parent", "kid", 403)
    # An old account is judged by the other rules only: connected, so delivered.
    other = await aged.post("/api/v1/messages", "other-adult", json={"to": "kid"})
    assert other.status_code == 403 and other.json()["rule"] == "stranger-dm-to-minor"


async def test_the_age_grows_with_time_and_no_write(aged: Wrapped) -> None:
    assert (await aged.post("/api/v1/messages", "parent", json={"to": "kid"})).status_code == 403
    clock = aged.middleware.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(5 * DAY)  # eight days old now; the date was cached, the age is counted afresh
    assert (await aged.post("/api/v1/messages", "parent", json={"to": "kid"})).status_code == 201
    assert len(aged.reached("dm")) == 1


async def test_an_account_with_no_creation_date_counts_as_new(aged: Wrapped) -> None:
    rules = aged.middleware.policy.rules[Action.DIRECT_MESSAGE]
    for actor in ("teen", "no-row-at-all"):
        decision = await decide(facts(aged), rules, actor, ["kid"])
        assert decision.decisive is not None and decision.decisive.verdict.rule is not None
        assert decision.decisive.lookups.actor_age_days == 0.0


async def test_the_age_is_asked_only_when_a_rule_that_survived_needs_it(aged: Wrapped) -> None:
    # An adult messaging an adult: no rule survives phase one, no creation date is read.
    assert (await aged.post("/api/v1/messages", "parent", json={"to": "other-adult"})).status_code == 201
    assert facts(aged).accounts.cached_age_days("parent") is None


async def test_a_creation_date_that_cannot_be_read_fails_closed(aged: Wrapped, engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE aa_users")
    refused = await aged.post("/api/v1/messages", "parent", json={"to": "kid"})
    assert refused.status_code == 503 and aged.reached("dm") == []


async def test_policy_explain_shows_the_age_it_read(aged: Wrapped) -> None:
    runtime = aged.middleware.runtime
    assert runtime is not None
    found = await explain(runtime, "parent", "POST /api/v1/messages", json={"to": "kid"})
    assert found.rule == "new-account-dm-to-minor"
    assert found.targets[0]["actor_age_days"] == pytest.approx(3.0)


async def test_the_policys_own_cases_give_ages_in_days(tmp_path: Path) -> None:
    loaded = load_policy(policy_with_age(tmp_path))
    results = {r.name: r for r in await run_tests(CompiledPolicy(loaded.policy, loaded.version, identity=False))}
    assert results["a parent's week-old account cannot message the child it is connected with"].passed
    assert results["an older account can"].passed


def test_a_rule_on_account_age_needs_to_know_where_creation_dates_are(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    without_dates = AGE_RULE.split("tests:")[0].replace(
        '  created_at: {sql: "SELECT created_at FROM aa_users WHERE id = :account"}\n', ""
    )
    path.write_text(POLICY + without_dates)
    with pytest.raises(PolicyError, match="rule 'new-account-dm-to-minor' uses `actor_account_age_days`"):
        load_policy(path)
    path.write_text(POLICY + textwrap.dedent(
        """
        accounts:
          created_at: {sql: "SELECT created_at FROM aa_users"}
        """
    ))
    with pytest.raises(PolicyError, match="must use :account"):
        load_policy(path)
