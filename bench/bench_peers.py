"""One "may this account message that one" decision: ours against the same rule written for
Cedar (`cedarpy`) and Casbin (`pycasbin`), the engines a team would reach for instead.

The rule is the baseline's for direct messages: a minor (any band but adult: the baseline
treats an unknown age as a minor) takes messages only from accounts it is connected with,
and never from a restricted account. Every engine is given the same facts (bands, the
actor's connections, restriction) and must give the same answer on the whole truth table
before anything is timed.

Each peer is used at its best: Cedar with its policy set parsed once and the entities of
a pair parsed once into a reusable handle (and, as an application would first meet it,
with the entities passed as JSON-shaped dicts per call); Casbin with its model file read
once, ABAC attributes on plain objects. Ours is the compiled baseline's two phases
(`RuleSet.stage`, then `RuleSet.verdict`), and the middleware's own `decide` on a warm worker
(bands and relationship from the in-process caches, awaited as the request path awaits it).
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from safe_accounts import AgeBand, SafeAccountsMiddleware
from safe_accounts.bands.age import Assurance, BandRecord
from safe_accounts.db.migrate import upgrade_url
from safe_accounts.decide.facts import party
from safe_accounts.decide.request import decide
from safe_accounts.decide.rules import Lookups, RuleSet
from safe_accounts.policy.model import Action, Outcome

from ._report import Row, median
from .bench_overhead import POLICY, host_app

SECTION = "peers"
ROUNDS = 7
TARGET = 50.0
# Decisions per round, per engine: enough for ~10 ms of the slowest engine per round.
PER_ROUND = {"ours": 40_000, "cached": 20_000, "cedar": 800, "cedar-dicts": 400, "casbin": 400}


@dataclass(frozen=True, slots=True)
class Case:
    """One row of the truth table: who writes, to whom, and what is true between them."""

    actor_band: AgeBand
    target_band: AgeBand
    connected: bool
    restricted: bool

    @property
    def expected_allowed(self) -> bool:
        minor = self.target_band is not AgeBand.ADULT
        return not (minor and (self.restricted or not self.connected))


CASES = [
    Case(a, t, c, r)
    for a, t, c, r in itertools.product(
        (AgeBand.ADULT, AgeBand.B16_17, AgeBand.UNKNOWN),
        tuple(AgeBand),
        (False, True),
        (False, True),
    )
]


# --- ours ------------------------------------------------------------------------------


def ours(rules: RuleSet) -> Callable[[Case], Callable[[], bool]]:
    def prepare(case: Case) -> Callable[[], bool]:
        actor = party(BandRecord("writer", case.actor_band, Assurance.SELF_DECLARED, "bench"), case.restricted)
        target = party(BandRecord("reader", case.target_band, Assurance.SELF_DECLARED, "bench"), False)
        lookups = Lookups(connected=case.connected)
        stage, verdict = rules.stage, RuleSet.verdict
        return lambda: verdict(stage(actor, target).rules, lookups).outcome is Outcome.ALLOW

    return prepare


# --- Cedar -----------------------------------------------------------------------------

CEDAR_POLICIES = """
permit(principal, action == Action::"direct_message", resource);

forbid(principal, action == Action::"direct_message", resource)
when { resource.band != "adult" && !(principal.connections.contains(resource)) };

forbid(principal, action == Action::"direct_message", resource)
when { resource.band != "adult" && principal.restricted };
"""


def cedar_entities(case: Case) -> list[dict[str, Any]]:
    reader = {"type": "Account", "id": "reader"}
    return [
        {
            "uid": {"type": "Account", "id": "writer"},
            "attrs": {
                "band": case.actor_band.value,
                "restricted": case.restricted,
                "connections": [{"__entity": reader}] if case.connected else [],
            },
            "parents": [],
        },
        {
            "uid": reader,
            "attrs": {"band": case.target_band.value, "restricted": False, "connections": []},
            "parents": [],
        },
    ]


CEDAR_REQUEST = {
    "principal": 'Account::"writer"',
    "action": 'Action::"direct_message"',
    "resource": 'Account::"reader"',
    "context": {},
}


def cedar(*, parsed_entities: bool) -> Callable[[Case], Callable[[], bool]]:
    import cedarpy  # a benchmark-only extra, so imported where it is used

    policies = cedarpy.PolicySet.from_str(CEDAR_POLICIES)

    def prepare(case: Case) -> Callable[[], bool]:
        entities: Any = cedar_entities(case)
        if parsed_entities:
            entities = cedarpy.Entities.from_json_str(orjson.dumps(entities).decode())
        authorize = cedarpy.is_authorized
        return lambda: authorize(CEDAR_REQUEST, policies, entities).allowed

    return prepare


# --- Casbin ----------------------------------------------------------------------------

# ABAC: the request carries the parties as objects; one allow and one deny policy line.
CASBIN_MODEL = """
[request_definition]
r = sub, obj, act

[policy_definition]
p = act, eft

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = r.act == p.act && (p.eft == "allow" || (r.obj.Band != "adult" \
    && (r.sub.Restricted || !(r.obj.Id in r.sub.Connections))))
"""

CASBIN_POLICY = "p, direct_message, allow\np, direct_message, deny\n"


@dataclass(frozen=True, slots=True)
class CasbinAccount:
    Id: str
    Band: str
    Restricted: bool
    Connections: tuple[str, ...]


def casbin_enforcer(tmp: Path) -> Any:
    import casbin  # a benchmark-only extra, so imported where it is used

    model, policy = tmp / "model.conf", tmp / "policy.csv"
    model.write_text(CASBIN_MODEL)
    policy.write_text(CASBIN_POLICY)
    return casbin.Enforcer(str(model), str(policy))


def casbin_(enforcer: Any) -> Callable[[Case], Callable[[], bool]]:
    def prepare(case: Case) -> Callable[[], bool]:
        writer = CasbinAccount(
            "writer", case.actor_band.value, case.restricted, ("reader",) if case.connected else ()
        )
        reader = CasbinAccount("reader", case.target_band.value, False, ())
        enforce = enforcer.enforce
        return lambda: bool(enforce(writer, reader, "direct_message"))

    return prepare


# --- the middleware's cached path ------------------------------------------------------


async def cached_path(tmp: Path) -> tuple[SafeAccountsMiddleware, list[Callable[[], Awaitable[bool]]]]:
    """The middleware's own path for a pair whose bands and relationship are cached: an
    adult to a connected minor (allowed), to a stranger minor (denied), to an adult."""
    url = f"sqlite+aiosqlite:///{tmp / 'peers.db'}"
    await upgrade_url(url)
    policy = tmp / "policy.yaml"
    policy.write_text(POLICY)
    middleware = SafeAccountsMiddleware(
        host_app(), policy=policy, database_url=url, signals=None, health_path=None
    )
    rt = await middleware.start()
    async with middleware.engine.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE friendships (a VARCHAR(64), b VARCHAR(64))")
        await conn.exec_driver_sql("INSERT INTO friendships VALUES ('parent', 'child')")
    for account in ("parent", "other-adult"):
        await rt.bands.set(account, band=AgeBand.ADULT)
    await rt.bands.set("child", band=AgeBand.B13_15)
    await rt.bands.set("other-child", band=AgeBand.B13_15)
    rules = middleware.policy.rules[Action.DIRECT_MESSAGE]
    deciders: list[Callable[[], Awaitable[bool]]] = []
    for target, allowed in (("child", True), ("other-child", False), ("other-adult", True)):
        await decide(rt.facts, rules, "parent", [target])  # fills the caches
        if rt.relationships.cached_connected("parent", target) is None and target != "other-adult":
            raise RuntimeError(f"cached path: parent to {target} is not in the caches")

        async def decided(target: str = target) -> bool:
            decision = await decide(rt.facts, rules, "parent", [target])
            return decision.pairs[0].verdict.outcome is Outcome.ALLOW

        if await decided() is not allowed:
            raise AssertionError(f"cached path: parent to {target} should be allowed={allowed}")
        deciders.append(decided)
    return middleware, deciders


# --- timing ----------------------------------------------------------------------------


def check(name: str, prepare: Callable[[Case], Callable[[], bool]]) -> list[Callable[[], bool]]:
    """Every case decided as the rule says, or the engine is not measured at all."""
    deciders = []
    for case in CASES:
        decide = prepare(case)
        if decide() is not case.expected_allowed:
            raise AssertionError(f"{name} decides {case} wrongly: {not case.expected_allowed}")
        deciders.append(decide)
    return deciders


def per_decision_us(deciders: list[Callable[[], bool]], n: int) -> float:
    work = list(itertools.islice(itertools.cycle(deciders), n))
    start = time.perf_counter()
    for decided in work:
        decided()
    return (time.perf_counter() - start) / n * 1e6


async def per_awaited_decision_us(deciders: list[Callable[[], Awaitable[bool]]], n: int) -> float:
    work = list(itertools.islice(itertools.cycle(deciders), n))
    start = time.perf_counter()
    for decided in work:
        await decided()
    return (time.perf_counter() - start) / n * 1e6


async def measure() -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        middleware, cached = await cached_path(tmp)
        try:
            rules = middleware.policy.rules[Action.DIRECT_MESSAGE]
            engines = {
                "ours": check("ours", ours(rules)),
                "cedar": check("cedar (parsed entities)", cedar(parsed_entities=True)),
                "cedar-dicts": check("cedar (entity dicts)", cedar(parsed_entities=False)),
                "casbin": check("casbin", casbin_(casbin_enforcer(tmp))),
            }
            print(f"  all engines agree on {len(CASES)} cases", flush=True)
            times: dict[str, list[float]] = {name: [] for name in (*engines, "cached")}
            for _ in range(ROUNDS):  # engines interleaved per round: noise hits all alike
                for name, deciders in engines.items():
                    times[name].append(per_decision_us(deciders, PER_ROUND[name]))
                times["cached"].append(await per_awaited_decision_us(cached, PER_ROUND["cached"]))
        finally:
            await middleware.close()
    us = {name: median(t) for name, t in times.items()}
    rows = [
        Row(
            SECTION,
            "ours: the compiled baseline's two phases, facts in hand",
            f"{us['ours']:.2f} µs",
        ),
        Row(
            SECTION,
            "ours: the middleware's `decide`, facts from the warm caches",
            f"{us['cached']:.2f} µs",
        ),
    ]
    for name, what in (
        ("cedar", "Cedar (`cedarpy.is_authorized`, parsed policy set and entities)"),
        ("cedar-dicts", "Cedar (`cedarpy.is_authorized`, entities as dicts per call)"),
        ("casbin", "Casbin (`Enforcer.enforce`, ABAC matcher)"),
    ):
        ratio = us[name] / us["ours"]
        cached_ratio = us[name] / us["cached"]
        rows.append(Row(
            SECTION, what,
            f"{us[name]:.1f} µs: ours {ratio:.0f}x faster ({cached_ratio:.0f}x on the cached path)",
            f">= {TARGET:.0f}x", ratio >= TARGET,
        ))
    for row in rows:
        print(f"  {row.what}: {row.figure}", flush=True)
    return rows


def run() -> list[Row]:
    return asyncio.run(measure())
