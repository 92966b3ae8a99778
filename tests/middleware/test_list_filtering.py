"""Filtering the lists of people in an app's answer, item by item.

`filter_lists` judges a page with `decide_page`, from the caches when they hold the page,
else fetching what is missing. Either way every listed item gets the verdict that judging
that item on its own would give: these tests hold both ways to that, on real SQL, with warm
and cold caches.
"""

from __future__ import annotations

import copy
import random
import textwrap
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.alerts.restrictions import Restrictions
from safe_accounts.bands.age import AgeBand, Assurance
from safe_accounts.clock import FrozenClock
from safe_accounts.decide.page import decide_page
from safe_accounts.decide.request import decide
from safe_accounts.decide.rules import PairVerdict
from safe_accounts.decisions.table import decision_log
from safe_accounts.errors import StorageError
from safe_accounts.pipeline.ids import account_ids, ids_at
from safe_accounts.pipeline.lists import NOTICE_RESTRICTED, NOTICE_STRANGER, _notices, filter_lists
from safe_accounts.policy.jsonpath import compile_path
from safe_accounts.policy.model import Action, Mode, Outcome
from safe_accounts.runtime import Runtime
from tests.decide.cold import Cold

POLICY = textwrap.dedent(
    """
    version: 1
    name: lists
    extends: baseline
    # A production budget is 250 ms; a loaded test machine can take longer over a cold query.
    defaults: {time_budget_ms: 2000}
    identity:
      - {source: header, header: x-account-id, trusted_proxies: ["127.0.0.1/32"]}
    bands:
      cache: {ttl_seconds: 31536000}  # a year: cached bands outlive birthdays
    relationships:
      connected: {sql: "SELECT b FROM list_friendships WHERE a = :actor AND b IN :targets"}
      mutual_count:
        sql: >-
          SELECT COUNT(*) FROM list_friendships f1 JOIN list_friendships f2 ON f1.b = f2.b
          WHERE f1.a = :actor AND f2.a = :target
      cache_seconds: 3600
    rules:
      # Watched, not enforced: a monitor rule that needs a mutual count.
      - id: strangers-shown-to-under-13s
        action: discovery
        when: {actor_band: [under_13], target_band: [adult], mutual_connections: {max: 0}}
        then: filter
        mode: monitor
        reason: Adults with no friends in common shown to an under-13.
    routes:
      - {name: search, method: GET, path: /api/search, action: discovery,
         response: {items: "results[*]", id: id, notice_field: safety_notice}}
    """
)

BANDS = {
    "adult": AgeBand.ADULT,
    "parent": AgeBand.ADULT,
    "coach": AgeBand.ADULT,
    "flagged": AgeBand.ADULT,  # restricted below
    "kid": AgeBand.B13_15,
    "kid-friend": AgeBand.B13_15,
    "young": AgeBand.UNDER_13,
    "teen": AgeBand.B16_17,
    "5": AgeBand.B13_15,  # numeric ids, spelled every way an app may write them
}
FRIENDS = [
    ("parent", "kid"), ("parent", "young"), ("kid", "kid-friend"), ("coach", "kid-friend"), ("parent", "coach"),
]
RESTRICTED = {"flagged"}
# Listed without any band record: `unknown`, which the baseline counts as a minor.
NO_RECORD = "ghost"

SEARCH = compile_path("results[*]")
ID = compile_path("id")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(1_800_000_000)


@pytest.fixture
async def rt(
    engine: AsyncEngine, database_url: str, tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[Runtime]:
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE IF EXISTS list_friendships")
        await conn.exec_driver_sql("CREATE TABLE list_friendships (a VARCHAR(64), b VARCHAR(64))")
        for a, b in FRIENDS:
            await conn.exec_driver_sql(f"INSERT INTO list_friendships VALUES ('{a}', '{b}'), ('{b}', '{a}')")
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    middleware = SafeAccountsMiddleware(
        Starlette(), policy=policy, database_url=database_url, clock=clock, signals=None
    )
    runtime = await middleware.start()
    for account, band in BANDS.items():
        await runtime.bands.set(account, band=band, assurance=Assurance.SELF_DECLARED)
    restrictions = Restrictions(middleware.engine, clock=clock, refresh_interval=3600)
    await restrictions.start()
    for account in RESTRICTED:
        await restrictions.restrict(account, reason="test", by="test")
    runtime.restrictions = restrictions
    yield runtime
    await restrictions.close()
    await middleware.close()
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE IF EXISTS list_friendships")


def _rules(rt: Runtime):  # type: ignore[no-untyped-def]
    return rt.policy.rules[Action.DISCOVERY]


async def _filter(
    rt: Runtime,
    actor_id: str | None,
    document: Any,
    *,
    lists: tuple[tuple[object, ...], ...] = (SEARCH,),
    id_path: tuple[object, ...] = ID,
    notice_field: str | None = "safety_notice",
) -> tuple[bool, str | None, dict[str, dict[str, str]]]:
    actor = (await decide(rt.facts, _rules(rt), actor_id, ())).actor
    return await filter_lists(
        rt, route="search", rules=_rules(rt), at=rt.clock.now(), actor=actor, document=document,
        lists=lists, id_path=id_path, notice_field=notice_field,
    )


async def _rows(rt: Runtime) -> list[tuple[str, str, str | None, int]]:
    await rt.decisions.flush()
    async with rt.engine.connect() as conn:
        rows = (await conn.execute(decision_log.select().order_by(decision_log.c.at))).mappings().all()
    return [(r["rule"], r["mode"], r["target_id"], r["affected"]) for r in rows]


def _page(*ids: Any) -> dict[str, Any]:
    return {"results": [{"id": i, "name": f"Account {i}"} for i in ids], "total": len(ids)}


def _ids(document: dict[str, Any]) -> list[Any]:
    return [item.get("id") for item in document["results"]]


async def _warm(rt: Runtime, actor_id: str | None, ids: list[str]) -> None:
    """Fill every cache the page needs, the way a first request does."""
    await decide(rt.facts, _rules(rt), actor_id, ids)
    pairs = [(actor_id, i) for i in ids if actor_id is not None]
    for actor, target in pairs:
        if rt.relationships.cached_mutual(actor, target) is None:
            await rt.relationships.mutual(actor, target)


def _enforced_filter(pair: PairVerdict | None) -> bool:
    return (
        pair is not None
        and pair.verdict.mode is Mode.ENFORCE
        and pair.verdict.outcome.strength >= Outcome.FILTER.strength
    )


# --- a warm page is judged as a cold one ----------------------------------------------

ACTORS = [None, "adult", "parent", "kid", "young", "teen", "flagged", NO_RECORD, "5"]
LISTED = [*BANDS, NO_RECORD]


@pytest.mark.parametrize("actor_id", ACTORS)
async def test_a_page_from_the_caches_gives_every_listed_account_the_verdict_fetching_gives(
    rt: Runtime, actor_id: str | None
) -> None:
    await _warm(rt, actor_id, LISTED)
    warm = await decide_page(rt.facts, _rules(rt), actor_id, LISTED, with_targets=True)
    cold = await decide_page(Cold(rt.facts), _rules(rt), actor_id, LISTED, with_targets=True)
    assert warm == cold
    assert cold.targets is not None and [p.id for p in cold.targets] == LISTED


async def test_a_page_with_an_account_never_seen_fetches_its_band(rt: Runtime) -> None:
    await _warm(rt, "adult", ["kid", "coach"])
    page = await decide_page(rt.facts, _rules(rt), "adult", ["kid", "never-seen", "coach"])
    assert set(page.ruled) == {"kid", "never-seen"}  # unknown is a minor by the protective default
    assert rt.bands.cached("never-seen") is not None


async def test_a_page_that_needs_a_relationship_not_cached_looks_it_up(rt: Runtime) -> None:
    # Bands cached, but whether "adult" knows "kid" was never asked.
    await decide(rt.facts, _rules(rt), None, ["adult", "kid"])
    assert rt.relationships.cached_connected("adult", "kid") is None
    await decide_page(rt.facts, _rules(rt), "adult", ["kid"])
    assert rt.relationships.cached_connected("adult", "kid") is False


# --- filter_lists: what is removed, kept, noticed and logged ----------------------------

async def test_a_warm_page_is_filtered_without_any_lookup(rt: Runtime) -> None:
    await _warm(rt, "adult", LISTED)

    class Down:
        async def fetch(self, ids):  # type: ignore[no-untyped-def]
            raise ConnectionRefusedError("band store down")

    rt.bands.store = Down()  # type: ignore[assignment]
    document = _page(*LISTED)
    changed, decision, notices = await _filter(rt, "adult", document)
    assert changed and decision is not None and notices == {}
    assert _ids(document) == ["adult", "parent", "coach", "flagged"]


async def test_a_cold_page_fetches_what_it_needs_and_filters_the_same(rt: Runtime) -> None:
    # Nothing about "adult" and the minors is cached yet, nor anything about "ghost".
    document = _page(*LISTED)
    changed, decision, _ = await _filter(rt, "adult", document)
    assert changed and decision is not None
    assert _ids(document) == ["adult", "parent", "coach", "flagged"]
    warm = _page(*LISTED)
    await _filter(rt, "adult", warm)
    assert warm == document


async def test_a_cold_page_whose_lookup_fails_raises_so_the_response_fails_closed(rt: Runtime) -> None:
    class Down:
        async def fetch(self, ids):  # type: ignore[no-untyped-def]
            raise ConnectionRefusedError("band store down")

    rt.bands.store = Down()  # type: ignore[assignment]
    with pytest.raises(StorageError, match="band store down"):
        await _filter(rt, "adult", _page("kid", "never-seen"))


async def test_a_page_of_allowed_accounts_is_left_alone_and_logs_nothing(rt: Runtime) -> None:
    await _warm(rt, "adult", ["parent", "coach"])
    document = _page("parent", "coach", "adult")
    before = copy.deepcopy(document)
    assert await _filter(rt, "adult", document) == (False, None, {})
    assert document == before
    assert await _rows(rt) == []


async def test_an_account_listed_twice_is_removed_twice_and_counted_once(rt: Runtime) -> None:
    await _warm(rt, "adult", ["kid", "coach"])
    document = _page("kid", "coach", "kid")
    changed, decision, _ = await _filter(rt, "adult", document)
    assert changed and decision is not None
    assert _ids(document) == ["coach"]
    # `affected` counts accounts, not the places they were listed in.
    assert await _rows(rt) == [("minors-out-of-stranger-discovery", "enforce", "kid", 1)]


async def test_every_spelling_of_an_id_is_judged_as_the_account(rt: Runtime) -> None:
    await _warm(rt, "adult", ["5", "coach"])
    document = _page(5, 5.0, " 5 ", "005", "+5", {"id": 5}, "0_5", "5.0", "coach", None, True)
    await _filter(rt, "adult", document)
    # Every spelling of minor 5 is gone, and counted as one account; an item without an
    # account id is not a person. `true` is account 1 to pydantic: it has no record, so it
    # is unknown, which the protective default filters too (the second account affected).
    assert _ids(document) == ["coach", None]
    assert await _rows(rt) == [("minors-out-of-stranger-discovery", "enforce", "5", 2)]


async def test_the_viewer_listed_among_the_results_is_never_filtered(rt: Runtime) -> None:
    await _warm(rt, "kid", ["kid", "young"])
    document = _page("kid", "young")
    await _filter(rt, "kid", document)
    assert _ids(document) == ["kid"]


async def test_lists_in_several_places_are_all_filtered_and_logged_once_per_rule(rt: Runtime) -> None:
    await _warm(rt, "adult", ["kid", "teen", "coach", "young", "parent"])
    document = {
        "results": [{"id": "kid"}, {"id": "coach", "friends": [{"id": "teen"}, {"id": "parent"}]}],
        "best": {"id": "young"},
        "first": [{"id": "teen"}, {"id": "coach"}],
    }
    changed, _, _ = await _filter(
        rt, "adult", document,
        lists=(SEARCH, compile_path("results[*].friends"), compile_path("best"), compile_path("first[0]")),
    )
    assert changed
    assert document == {
        "results": [{"id": "coach", "friends": [{"id": "parent"}]}],
        "first": [{"id": "coach"}],
    }
    assert await _rows(rt) == [("minors-out-of-stranger-discovery", "enforce", "kid", 3)]  # kid, teen, young


async def test_the_same_list_reached_by_two_paths_counts_its_accounts_once(rt: Runtime) -> None:
    await _warm(rt, "adult", ["kid", "coach"])
    document = _page("kid", "coach")
    await _filter(rt, "adult", document, lists=(SEARCH, compile_path("results")))
    assert _ids(document) == ["coach"]
    assert await _rows(rt) == [("minors-out-of-stranger-discovery", "enforce", "kid", 1)]


async def test_a_monitor_rule_keeps_the_account_and_logs_a_row(rt: Runtime) -> None:
    await _warm(rt, "young", ["adult", "coach"])
    document = _page("adult", "coach")
    changed, decision, notices = await _filter(rt, "young", document, notice_field=None)
    assert (changed, decision, notices) == (False, None, {})
    assert _ids(document) == ["adult", "coach"]
    assert await _rows(rt) == [("strangers-shown-to-under-13s", "monitor", "adult", 1)]


async def test_a_monitor_rule_takes_nothing_away_not_even_the_notice(rt: Runtime) -> None:
    await _warm(rt, "young", ["adult"])
    document = _page("adult")
    changed, decision, _ = await _filter(rt, "young", document)
    assert changed and decision is None
    assert _ids(document) == ["adult"]
    assert document["results"][0]["safety_notice"] == {"kind": "no_mutual_connections", "message": NOTICE_STRANGER}
    assert await _rows(rt) == [("strangers-shown-to-under-13s", "monitor", "adult", 1)]


async def test_a_minor_sees_a_notice_on_adults_they_share_no_friend_with(rt: Runtime) -> None:
    await _warm(rt, "kid", ["adult", "coach", "parent"])
    document = _page("adult", "coach", "parent")
    changed, decision, notices = await _filter(rt, "kid", document)
    assert changed and decision is None
    assert _ids(document) == ["adult", "coach", "parent"]
    assert document["results"][0]["safety_notice"] == {"kind": "no_mutual_connections", "message": NOTICE_STRANGER}
    assert "safety_notice" not in document["results"][1]  # coach shares a friend with kid
    assert "safety_notice" not in document["results"][2]  # parent is kid's connection
    assert set(notices) == {"adult"}
    assert await _rows(rt) == []


async def test_a_restricted_adult_vanishes_from_a_minors_page(rt: Runtime) -> None:
    await _warm(rt, "kid", ["flagged", "parent"])
    document = _page("flagged", "parent")
    changed, decision, notices = await _filter(rt, "kid", document)
    assert changed and decision is not None
    assert _ids(document) == ["parent"]
    # Noticed too (the response says a notice applied), though the item itself is gone.
    assert notices == {"flagged": {"kind": "restricted", "message": NOTICE_RESTRICTED}}
    assert await _rows(rt) == [("restricted-out-of-minor-discovery", "enforce", "flagged", 1)]


async def test_no_notices_without_a_notice_field_or_for_an_adult(rt: Runtime) -> None:
    await _warm(rt, "kid", ["adult"])
    document = _page("adult")
    assert await _filter(rt, "kid", document, notice_field=None) == (False, None, {})
    assert _ids(document) == ["adult"] and "safety_notice" not in document["results"][0]
    await _warm(rt, "parent", ["coach"])
    assert await _filter(rt, "parent", _page("coach")) == (False, None, {})


async def test_an_empty_list_or_no_list_changes_nothing(rt: Runtime) -> None:
    assert await _filter(rt, "adult", {"results": []}) == (False, None, {})
    assert await _filter(rt, "adult", {"other": 1}) == (False, None, {})
    assert await _filter(rt, "adult", _page("kid"), lists=()) == (False, None, {})


async def test_a_cached_band_moves_on_at_a_birthday(rt: Runtime, clock: FrozenClock) -> None:
    # Seventeen today, eighteen tomorrow: cached as a minor, shown as an adult from midnight.
    today = clock.today()
    born = date(today.year - 18, today.month, today.day) + timedelta(days=1)
    await rt.bands.set("almost", birth_date=born)
    await _warm(rt, "adult", ["almost"])
    document = _page("almost")
    await _filter(rt, "adult", document)
    assert _ids(document) == []
    clock.advance(86_400)
    document = _page("almost")
    await _filter(rt, "adult", document)
    assert _ids(document) == ["almost"]


# --- every page: the one-pass filter agrees with judging each item on its own -----------

async def _judged_alone(
    rt: Runtime, actor_id: str | None, document: dict[str, Any], notice_field: str | None
) -> dict[str, Any]:
    """`document` as judging each listed item by itself leaves it (`decide`),
    with the notices `_notices` gives for every listed account. A bare value in the list
    (`"text"`, `7`) is the id it spells, as a client shows it."""
    groups = [ids_at(i, ID) if isinstance(i, dict | list) else account_ids([i]) for i in document["results"]]
    everyone = await decide(rt.facts, _rules(rt), actor_id, [i for g in groups for i in g])
    notices = await _notices(rt, everyone.actor, [p.target for p in everyone.pairs]) if notice_field else {}
    kept = []
    for item, ids in zip(document["results"], groups, strict=True):
        decisive = (await decide(rt.facts, _rules(rt), actor_id, ids)).decisive
        if _enforced_filter(decisive):
            continue
        notice = next((notices[i] for i in ids if i in notices), None)
        if notice is not None and isinstance(item, dict):  # kept, by no rule or a monitor one
            item[notice_field] = notice
        kept.append(item)
    return {**document, "results": kept}


@pytest.mark.parametrize("notice_field", [None, "safety_notice"])
@pytest.mark.parametrize("seed", range(6))
async def test_random_pages_are_filtered_as_each_item_alone_would_be(
    rt: Runtime, seed: int, notice_field: str | None
) -> None:
    rng = random.Random(seed)
    pool: list[Any] = [*LISTED, 5, " kid ", "005", None, "", "x" * 300, "never-listed-before"]
    for actor_id in ACTORS:
        ids = [rng.choice(pool) for _ in range(rng.randint(1, 25))]
        document = {"results": [{"id": i} for i in ids] + [rng.choice(["text", 7, {"no": "id"}])]}
        if rng.random() < 0.7:  # most pages warm, some cold
            await _warm(rt, actor_id, LISTED)
        expected = await _judged_alone(rt, actor_id, copy.deepcopy(document), notice_field)
        await _filter(rt, actor_id, document, notice_field=notice_field)
        assert document == expected, (seed, actor_id)


async def _rows_with_targets(rt: Runtime) -> list[tuple[str, int, Any]]:
    await rt.decisions.flush()
    async with rt.engine.connect() as conn:
        rows = (await conn.execute(decision_log.select().order_by(decision_log.c.at))).mappings().all()
    return [(r["rule"], r["affected"], r["targets"]) for r in rows]


@pytest.mark.parametrize("size", [8, 200])
async def test_a_page_is_one_row_per_rule_naming_every_account_filtered_whatever_its_length(
    rt: Runtime, size: int
) -> None:
    people = [f"p{size}-{i}" for i in range(size)]
    minors = people[::4]  # a quarter of the page
    for person in people:
        band = AgeBand.B13_15 if person in minors else AgeBand.ADULT
        await rt.bands.set(person, band=band, assurance=Assurance.SELF_DECLARED)
    await _warm(rt, "adult", people)
    document = _page(*people)
    changed, decision, _ = await _filter(rt, "adult", document)
    assert changed and decision is not None
    assert _ids(document) == [p for p in people if p not in minors]
    assert await _rows_with_targets(rt) == [
        ("minors-out-of-stranger-discovery", len(minors), [[m, "13_15"] for m in minors])
    ]


async def test_each_rule_of_a_page_names_its_own_accounts_and_monitored_ones_too(rt: Runtime) -> None:
    await _warm(rt, "young", ["kid", "flagged", "adult", "coach"])
    document = _page("kid", "flagged", "adult", "coach")
    await _filter(rt, "young", document)
    rows = {rule: (affected, targets) for rule, affected, targets in await _rows_with_targets(rt)}
    # The unconnected minor and the restricted adult are filtered from an under-13's page,
    # each by its rule; the adult with no friend in common is only watched (the monitor
    # rule), and named all the same (the coach shares a friend with the child: no rule
    # applies, and the coach is named nowhere).
    assert rows == {
        "minors-out-of-stranger-discovery": (1, [["kid", "13_15"]]),
        "restricted-out-of-minor-discovery": (1, [["flagged", "adult"]]),
        "strangers-shown-to-under-13s": (1, [["adult", "adult"]]),
    }
