"""Who is in the soak run, and what each kind of account does.

Parents are connected to their two children and message them; children message their
parents, search and look at profiles; groomers follow a script that must raise their
alerts (stranger DMs, contact requests, rejections, blocks and reports by children).
Everyone else's traffic must raise none.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.bands.age import AgeBand, Assurance
from safe_accounts.bands.recording import new_record
from safe_accounts.bands.store import OwnBandStore
from safe_accounts.clock import SYSTEM_CLOCK
from tests.middleware.conftest import HOST_TABLES

# The signals each groomer's script crosses (baseline policy thresholds). They make one
# alert per groomer: crossings after the first join it (docs/signals.md, "No alert storms").
GROOMER_SIGNALS = (
    "denied-dms-to-minors",
    "rejected-by-minors",
    "blocked-by-minors",
    "reported-by-minors",
)
_MINOR_BANDS = (AgeBand.UNDER_13, AgeBand.B13_15, AgeBand.B16_17)


@dataclass(frozen=True)
class Request:
    kind: str  # the action kind, for the figures
    method: str
    path: str
    actor: str
    json: Any = None


@dataclass
class Population:
    parents: list[str]
    children: list[str]
    groomers: list[str]
    family: dict[str, list[str]]  # parent -> children
    parent_of: dict[str, str]
    requests: dict[tuple[str, str], int] = field(default_factory=dict)  # (sender, child) -> id

    @classmethod
    def make(cls, parents: int, groomers: int) -> Population:
        parent_ids = [f"parent-{i:04d}" for i in range(parents)]
        children = [f"child-{i:04d}" for i in range(2 * parents)]
        family = {p: children[2 * i: 2 * i + 2] for i, p in enumerate(parent_ids)}
        parent_of = {c: p for p, cs in family.items() for c in cs}
        return cls(parent_ids, children, [f"groomer-{i:03d}" for i in range(groomers)], family, parent_of)

    async def seed(self, engine: AsyncEngine, rng: random.Random) -> None:
        records = [
            new_record(
                a, band=AgeBand.ADULT, birth_date=None, assurance=Assurance.VERIFIED, source="soak", clock=SYSTEM_CLOCK
            )
            for a in self.parents + self.groomers
        ] + [
            new_record(
                c,
                band=_MINOR_BANDS[i % 3],
                birth_date=None,
                assurance=Assurance.ESTIMATED,
                source="soak",
                clock=SYSTEM_CLOCK,
            )
            for i, c in enumerate(self.children)
        ]
        await OwnBandStore(engine).put(records)
        friendships = [(p, c) for p, cs in self.family.items() for c in cs]
        friendships += [(self.parents[i], self.parents[(i + 1) % len(self.parents)]) for i in range(len(self.parents))]
        next_id = 1000
        for g in self.groomers:
            for child in rng.sample(self.children, 6):
                self.requests[(g, child)] = next_id
                next_id += 1
        for p, cs in self.family.items():
            for c in cs:
                self.requests[(p, c)] = next_id
                next_id += 1
        rows = [{"a": a, "b": b} for x, y in friendships for a, b in ((x, y), (y, x))]
        async with engine.begin() as conn:
            for ddl in HOST_TABLES:
                await conn.exec_driver_sql(ddl)
            await conn.execute(text("INSERT INTO host_friendships (a, b) VALUES (:a, :b)"), rows)
            await conn.execute(
                text("INSERT INTO host_requests (id, sender) VALUES (:id, :sender)"),
                [{"id": str(i), "sender": s} for (s, _), i in self.requests.items()],
            )
            await conn.execute(
                text("INSERT INTO host_members (conversation, member) VALUES (:c, :m)"),
                [{"c": f"family-{p}", "m": m} for p, cs in self.family.items() for m in (p, *cs)],
            )

    def groomer_script(self, rng: random.Random) -> deque[Request]:
        """Every groomer's attempts, shuffled together: each crosses GROOMER_SIGNALS."""
        steps: list[Request] = []
        for g in self.groomers:
            strangers = rng.sample(self.children, 16)
            for child in strangers[:4]:
                steps.append(Request("direct_message", "POST", "/api/v1/messages", g, {"to": child}))
            for child in strangers[4:16]:
                steps.append(Request("contact_request", "POST", "/api/friend-requests", g, {"to": child}))
            mine = [c for (s, c) in self.requests if s == g]
            for child in mine:
                steps.append(
                    Request(
                        "contact_response", "POST", f"/api/friend-requests/{self.requests[(g, child)]}/reject", child
                    )
                )
            for child in mine[:3]:
                steps.append(Request("block", "POST", "/api/blocks", child, {"account": g}))
            for child in mine[3:5]:
                steps.append(Request("report", "POST", "/api/reports", child, {"account": g}))
        rng.shuffle(steps)
        return deque(steps)

    def everyday(self, rng: random.Random) -> Request:
        """One request of the ordinary traffic, drawn from a mix of every action kind."""
        roll = rng.random()
        parent = rng.choice(self.parents)
        child = rng.choice(self.children)
        if roll < 0.15:
            return Request(
                "direct_message", "POST", "/api/v1/messages", parent, {"to": rng.choice(self.family[parent])}
            )
        if roll < 0.25:
            return Request("direct_message", "POST", "/api/v1/messages", child, {"to": self.parent_of[child]})
        if roll < 0.30:
            other = rng.choice(self.parents)
            return Request("direct_message", "POST", "/api/v1/conversations", parent,
                           {"participants": [{"id": other}, {"id": self.family[parent][0]}]})
        if roll < 0.35:
            return Request(
                "direct_message", "POST", f"/api/v2/conversations/family-{parent}/messages", parent, {"text": "hi"}
            )
        if roll < 0.55:
            return Request("discovery", "GET", "/api/search?q=a", rng.choice((parent, child)))
        if roll < 0.70:
            viewer = rng.choice((parent, child))
            return Request(
                "profile_view", "GET", f"/api/accounts/{rng.choice((child, parent, rng.choice(self.groomers)))}", viewer
            )
        if roll < 0.75:
            return Request("contact_request", "POST", "/api/friend-requests", parent, {"to": rng.choice(self.parents)})
        if roll < 0.80:
            mine = self.parent_of[child]
            return Request(
                "contact_response", "POST", f"/api/friend-requests/{self.requests[(mine, child)]}/accept", child
            )
        if roll < 0.85:
            return Request("block", "POST", "/api/blocks", parent, {"account": rng.choice(self.parents)})
        if roll < 0.88:
            return Request("report", "POST", "/api/reports", parent, {"account": rng.choice(self.parents)})
        return Request("unknown_route", "GET", "/hello", rng.choice((parent, child)))
