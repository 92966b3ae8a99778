"""Driving the population through the real app, behind the real middleware, in-process.

One event queue ordered by simulated time: each day's plans go in at midnight, answers
and reactions go in as they are decided. The clock is set to each event's time before
its HTTP request, and the middleware is drained after it (`SafeAccountsMiddleware.drain`),
so a crossing becomes an alert (and a restriction) at the moment of the event that caused
it, whatever the machine's speed. Nothing here reads the wall clock.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from ..app import Settings, create_app
from ..auth import Persona, Tokens
from .behaviour import (
    DAY,
    Answer,
    Block,
    Message,
    Planned,
    Report,
    Search,
    SendRequest,
    Society,
    Task,
)
from .parameters import Parameters
from .population import Population, Role, build_population
from .stack import FrozenClock, drain, migrate, policy_signals, restricted_notice, wrap
from .world import write_population

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday; fixed, so a seed gives one result
SECRET = "simulation-only-signing-key-not-a-secret"
BASE_URL = "http://simulation.local"
RESTRICTED_RULE = "restricted-contact-to-minor"
RETRIES = 10
# A friend request refused for any other reason than a restriction ("try again tomorrow")
# is sent again a day later, at most this many times: what a person told to wait does.
REQUEST_RETRIES = 3
SESSION_SECONDS = 100 * 365 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Contact:
    """An adult reaching a child they were not connected with: a friend request or a DM."""

    at: float
    actor: int
    child: int
    kind: str  # "request" or "message"
    status: int


@dataclass(slots=True)
class Journal:
    """What happened, as the driver saw it: the ground truth the outcome is measured on."""

    contacts: list[Contact] = field(default_factory=list)
    requests: Counter[tuple[str, int]] = field(default_factory=Counter)  # (task, status)
    groomer_requests_accepted: int = 0
    groomer_messages_delivered: int = 0
    children_reached_by_groomers: set[tuple[int, int]] = field(default_factory=set)
    messages_delivered: Counter[tuple[int, int]] = field(default_factory=Counter)  # (from, to)
    # (at, groomer account, child): a child accepted the groomer (they are connected, and
    # messages pass); one entry per pair, the first time.
    reached: list[tuple[float, int, int]] = field(default_factory=list)
    retried: int = 0  # 503s retried: depends on the machine, so kept out of the outcome
    # Friend requests refused for another reason than a restriction (a cap), by the
    # sender's role: the friction the policy puts on people before any alert.
    requests_refused: Counter[str] = field(default_factory=Counter)


def _scratch_dir() -> str | None:
    """Memory-backed when the machine has it: the database is thrown away after the run."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


class Driver:
    def __init__(
        self,
        client: httpx.AsyncClient,
        society: Society,
        flush: Callable[[], Awaitable[None]],
        days: int,
        tokens: Tokens,
        restricted_notice: str | None = None,
    ) -> None:
        self.client = client
        self.issuer = tokens
        self.society = society
        self.flush = flush
        self.days = days
        self.end = days * DAY
        self.tokens: dict[int, str] = {}
        # What a restricted account is told (the policy's neutral notice): how a person
        # finds out, since the refusal names no rule.
        self.restricted_notice = restricted_notice
        self.journal = Journal()
        self._queue: list[tuple[float, int, Task]] = []
        self._resent: Counter[tuple[int, int]] = Counter()  # (sender, target): requests sent again
        self._order = itertools.count()

    def _push(self, planned: list[Planned]) -> None:
        for at, task in planned:
            if at < self.end:
                heapq.heappush(self._queue, (at, next(self._order), task))

    async def run(
        self, clock: FrozenClock, start: float, on_day: Callable[[int], None] | None = None
    ) -> Journal:
        """Every simulated day in turn; `on_day(n)` hears each one done (a progress bar)."""
        for day in range(self.days):
            self._push(self.society.plan_day(day))
            day_end = (day + 1) * DAY
            while self._queue and self._queue[0][0] < day_end:
                at, _, task = heapq.heappop(self._queue)
                clock.set(start + at)
                await self._do(task, at)
                await self.flush()
            if on_day is not None:
                on_day(day + 1)
        return self.journal

    async def _headers(self, account: int) -> dict[str, str]:
        token = self.tokens.get(account)
        if token is None:
            # The token POST /api/login would give, from the app's own issuer: logging
            # thousands of people in is not behaviour worth a request each.
            person = self.society.people[account]
            token = self.tokens[account] = self.issuer.issue(
                Persona(person.id, person.handle, person.name)
            )
        return {"authorization": f"Bearer {token}"}

    async def _send(
        self, method: str, url: str, headers: dict[str, str], **kwargs: Any
    ) -> httpx.Response:
        """One request; a 503 (a safety check that ran out of its time budget on a busy
        machine) is retried at the same simulated moment, as a client would: how fast the
        machine is must not change the story. Nothing is recorded for a 503."""
        for _ in range(RETRIES):
            response = await self.client.request(method, url, headers=headers, **kwargs)
            if response.status_code != 503:
                return response
            self.journal.retried += 1
        return response

    def _count(self, task: Task, response: httpx.Response) -> None:
        self.journal.requests[(type(task).__name__, response.status_code)] += 1

    def _contact(self, at: float, actor: int, target: int, kind: str, status: int) -> None:
        people = self.society.people
        if (
            people[target].role is Role.CHILD
            and people[actor].role is not Role.CHILD
            and not self.society.connected(actor, target)
        ):
            self.journal.contacts.append(Contact(at, actor, target, kind, status))

    async def _do(self, task: Task, at: float) -> None:
        society = self.society
        headers = await self._headers(task.actor)

        async def send(method: str, url: str, **kwargs: Any) -> httpx.Response:
            return await self._send(method, url, headers, **kwargs)

        if isinstance(task, SendRequest):
            response = await send("POST", "/api/friend-requests", json={"to": task.target})
            self._contact(at, task.actor, task.target, "request", response.status_code)
            if response.status_code == 201:
                society_plan = society.answer(task, response.json()["id"], at)
                self._push(society_plan)
            elif _refused_as_restricted(response, self.restricted_notice):
                society.found_restricted(task.actor)
            elif response.status_code == 403:
                self.journal.requests_refused[society.people[task.actor].role.value] += 1
                pair = (task.actor, task.target)
                if self._resent[pair] < REQUEST_RETRIES:
                    self._resent[pair] += 1
                    self._push([(at + DAY, task)])
        elif isinstance(task, Answer):
            verb = "accept" if task.accept else "reject"
            response = await send("POST", f"/api/friend-requests/{task.request_id}/{verb}")
            if response.status_code == 200 and task.accept:
                society.became_friends(task.sender, task.actor)
                self._push(society.after_acceptance(task, at))
                if society.people[task.sender].role is Role.GROOMER:
                    self.journal.groomer_requests_accepted += 1
                    if society.people[task.actor].role is Role.CHILD:
                        self.journal.reached.append((at, task.sender, task.actor))
        elif isinstance(task, Message):
            response = await send("POST", "/api/messages", json={"to": task.target, "text": "hi"})
            self._contact(at, task.actor, task.target, "message", response.status_code)
            if response.status_code == 201:
                self.journal.messages_delivered[(task.actor, task.target)] += 1
                if (
                    society.people[task.actor].role is Role.GROOMER
                    and society.people[task.target].role is Role.CHILD
                ):
                    self.journal.groomer_messages_delivered += 1
                    self.journal.children_reached_by_groomers.add((task.actor, task.target))
                self._push(society.after_message(task, at))
            elif _refused_as_restricted(response, self.restricted_notice):
                society.found_restricted(task.actor)
        elif isinstance(task, Block):
            response = await send("POST", "/api/blocks", json={"account": task.target})
            if response.status_code in (200, 201):
                society.blocked_by(task.actor, task.target)
        elif isinstance(task, Report):
            reason = "made me uncomfortable"
            response = await send(
                "POST", "/api/reports", json={"account": task.target, "reason": reason}
            )
        elif isinstance(task, Search):
            response = await send("GET", "/api/search", params={"q": task.q})
        else:
            response = await send("GET", f"/api/accounts/{task.target}")
        self._count(task, response)


def _refused_as_restricted(response: httpx.Response, notice: str | None) -> bool:
    """A 403 naming the restriction rule, or telling the policy's restricted notice."""
    if response.status_code != 403:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return bool(body.get("rule") == RESTRICTED_RULE or (notice and body.get("detail") == notice))


@dataclass(frozen=True, slots=True)
class Run:
    """A finished run: the population, the journal, and the database to read the logs from."""

    population: Population
    journal: Journal
    start: float
    database_url: str
    policy_name: str
    policy_version: str
    signals: frozenset[str]  # the policy's signal ids


async def drive(
    params: Parameters, workdir: str, on_day: Callable[[int], None] | None = None
) -> Run:
    """Build the population in a fresh SQLite database under `workdir` and drive it."""
    population = build_population(params, START.date())
    url = f"sqlite+aiosqlite:///{Path(workdir) / 'simulation.db'}"
    await migrate(url)
    clock = FrozenClock(START)
    # Sessions outlast the run by far: the middleware checks a token's expiry against the
    # real time, not the simulated one (see docs/simulation.md), so a token that expired in
    # simulated March would name nobody in real November.
    app = create_app(Settings(url, SECRET, session_seconds=SESSION_SECONDS, clock=clock))
    front = wrap(app, policy=params.policy, database_url=url, clock=clock, secret=SECRET)
    try:
        async with app.router.lifespan_context(app):
            await write_population(
                app.state.runtime.engine, population, clock.now(), vouched=params.vouched
            )
            await front.start()
            transport = httpx.ASGITransport(app=front)
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
                society = Society(population, params)
                driver = Driver(
                    client,
                    society,
                    drain(front),
                    params.days,
                    app.state.runtime.tokens,
                    restricted_notice=restricted_notice(front),
                )
                journal = await driver.run(clock, START.timestamp(), on_day)
    finally:
        await front.close()  # writes the decision log's last rows, closes the stores
    return Run(
        population,
        journal,
        START.timestamp(),
        url,
        front.policy.policy.name,
        front.policy.version,
        policy_signals(front),
    )


@contextlib.contextmanager
def scratch() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="safe-accounts-simulation-", dir=_scratch_dir()) as tmp:
        yield tmp


__all__ = ["START", "Contact", "Driver", "Journal", "Run", "drive", "scratch"]
