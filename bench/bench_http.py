"""Over HTTP: the same Starlette app and policy as `bench_overhead`, served by uvicorn (one
worker, loopback), bare and behind Safe Accounts, loaded by `wrk`.

Three servers run side by side for the whole benchmark, each in its own process:
- *bare*: the host app alone;
- *wrapped*: the host app behind `SafeAccountsMiddleware` (SQLite, no Redis: the caches
  are warm, so no request touches a store, as in `bench_overhead`);
- *floor*: the host app behind a no-op pure-ASGI middleware that only reads the request
  body and replays it. Any layer that must look inside a JSON body pays at least this; it
  is the honest floor for the DM scenarios.

Rounds alternate bare / wrapped (/ floor) per scenario, and each scenario reports the
ratio of the median throughputs measured in the same run. Servers are started and
stopped here, never left running. Lua scripts give `wrk` its method, body and headers
(the identity header is trusted from 127.0.0.1 in the policy).

The module doubles as the servers' app factories: `uvicorn --factory
bench.bench_http:wrapped_app` reads the policy and database from the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from safe_accounts import AgeBand, SafeAccountsMiddleware
from safe_accounts.db.migrate import upgrade_url

from ._report import Row, median
from .bench_overhead import MINORS, PEOPLE, POLICY, host_app, one, scope

SECTION = "http"
FLOOR_SECTION = "floor"
ROUNDS = 3
SECONDS = 4
CONNECTIONS = 32
TARGET = 0.9
WRK = shutil.which("wrk") or "/usr/bin/wrk"
ROOT = Path(__file__).resolve().parent.parent

ENV_POLICY = "SAFE_ACCOUNTS_BENCH_POLICY"
ENV_DATABASE = "SAFE_ACCOUNTS_BENCH_DATABASE_URL"


# --- the servers' apps -----------------------------------------------------------------


class BodyReplay:
    """A pure-ASGI middleware that reads the whole request body, then hands the app a
    `receive` that replays it: the least any body-inspecting layer must do."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def bare_app() -> Any:
    return host_app()


def floor_app() -> Any:
    return BodyReplay(host_app())


def wrapped_app() -> Any:
    return SafeAccountsMiddleware(
        host_app(),
        policy=os.environ[ENV_POLICY],
        database_url=os.environ[ENV_DATABASE],
        signals=None,
        health_path=None,
    )


# --- set-up ----------------------------------------------------------------------------


async def seed(url: str, policy: Path) -> None:
    """The same accounts, bands and friendship as `bench_overhead`, written to `url`."""
    await upgrade_url(url)
    middleware = SafeAccountsMiddleware(
        host_app(), policy=policy, database_url=url, signals=None, health_path=None
    )
    runtime = await middleware.start()
    try:
        async with middleware.engine.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE friendships (a VARCHAR(64), b VARCHAR(64))")
            await conn.exec_driver_sql(
                "INSERT INTO friendships VALUES ('parent', 'child'), ('child', 'parent')"
            )
        for account in ("adult", "other-adult", "parent"):
            await runtime.bands.set(account, band=AgeBand.ADULT)
        await runtime.bands.set("child", band=AgeBand.B13_15)
        for person in PEOPLE:
            band = AgeBand.B13_15 if person["id"] in MINORS else AgeBand.ADULT
            await runtime.bands.set(person["id"], band=band)
    finally:
        await middleware.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_options() -> list[str]:
    """uvicorn as it is deployed: C HTTP parser and uvloop when installed (the bench extra)."""
    options: list[str] = []
    for module, flag in (("uvloop", "--loop=uvloop"), ("httptools", "--http=httptools")):
        with contextlib.suppress(ImportError):
            __import__(module)
            options.append(flag)
    return options


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def serving(name: str, factory: str, env: dict[str, str]) -> Iterator[Server]:
    """Serve `factory` (a name in this module, or `module:name`) until the block ends; the
    app must answer `GET /hello`."""
    port = free_port()
    if ":" not in factory:
        factory = f"bench.bench_http:{factory}"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "--factory", factory,
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            "--no-access-log", "--log-level", "warning", "--lifespan", "on",
            *server_options(),
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    server = Server(name, f"http://127.0.0.1:{port}", process)
    try:
        wait_ready(server)
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_ready(server: Server, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} server exited with {server.process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            httpx.get(f"{server.url}/hello", timeout=1.0)
            return
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} server did not answer within {timeout:.0f} s")


# --- load ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scenario:
    what: str
    method: str
    path: str
    actor: str
    body: bytes = b""
    status: int = 200  # what the wrapped app answers; checked before timing

    def lua(self) -> str:
        lines = [
            f'wrk.method = "{self.method}"',
            f'wrk.headers["X-Account-Id"] = "{self.actor}"',
        ]
        if self.body:
            lines += [
                'wrk.headers["Content-Type"] = "application/json"',
                f"wrk.body = [[{self.body.decode()}]]",
            ]
        return "\n".join(lines) + "\n"

    def request(self, base: str) -> int:
        headers = {"x-account-id": self.actor}
        if self.body:
            headers["content-type"] = "application/json"
        response = httpx.request(
            self.method, base + self.path, headers=headers, content=self.body, timeout=5.0
        )
        return response.status_code


def dm(what: str, target: str, actor: str = "adult", status: int = 201) -> Scenario:
    body = orjson.dumps({"to": target, "text": "hello there"})
    return Scenario(what, "POST", "/api/messages", actor, body, status)


# (wrapped scenario, the bare scenario it is compared with, whether the floor applies)
SCENARIOS: list[tuple[Scenario, Scenario | None, bool]] = [
    (Scenario("unknown route (GET /hello)", "GET", "/hello", "adult"), None, False),
    (dm("allowed DM, adult to adult", "other-adult"), None, True),
    (dm("allowed DM, parent to connected minor", "child", "parent"), None, True),
    (
        dm("blocked stranger DM to a minor (vs bare DM)", "child", status=403),
        dm("bare DM", "other-adult"),
        True,
    ),
    (
        Scenario("search, 50 accounts, 10 minors filtered", "GET", "/api/search", "adult"),
        None,
        False,
    ),
]

_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def wrk(base: str, scenario: Scenario, script_dir: Path, seconds: int) -> float:
    """Requests per second over `seconds` with CONNECTIONS connections (one wrk thread:
    the machine has few cores and the server must have one to itself)."""
    script = script_dir / f"{abs(hash((scenario.method, scenario.actor, scenario.body)))}.lua"
    script.write_text(scenario.lua())
    out = subprocess.run(
        [WRK, "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(script), base + scenario.path],
        capture_output=True, text=True, check=True,
    ).stdout
    errors = _ERRORS.search(out)
    if errors and any(int(n) for n in errors.groups()):
        raise RuntimeError(f"wrk reported socket errors for {scenario.what}: {errors.group(0)}")
    found = _RPS.search(out)
    if found is None:
        raise RuntimeError(f"no throughput in wrk's output:\n{out}")
    return float(found.group(1))


def not_measured() -> list[Row]:
    print(
        f"  wrk not found at {WRK}: install it (Debian/Ubuntu: `sudo apt-get install wrk`) "
        "and run `python -m bench http` again",
        flush=True,
    )
    return [
        Row(SECTION, scenario.what, "not measured: wrk is not installed", f">= {TARGET}", None)
        for scenario, _, _ in SCENARIOS
    ]


def measure_http(tmp: Path) -> list[Row]:
    url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    policy = tmp / "policy.yaml"
    policy.write_text(POLICY)
    asyncio.run(seed(url, policy))
    env = {ENV_POLICY: str(policy), ENV_DATABASE: url}
    rows: list[Row] = []
    with (
        serving("bare", "bare_app", env) as bare,
        serving("wrapped", "wrapped_app", env) as wrapped,
        serving("floor", "floor_app", env) as floor,
    ):
        options = " ".join(server_options()) or "(h11, asyncio)"
        print(f"  uvicorn {options}, wrk -t1 -c{CONNECTIONS}", flush=True)
        for scenario, bare_case, with_floor in SCENARIOS:
            bare_scenario = bare_case or scenario
            got = scenario.request(wrapped.url)
            if got != scenario.status:
                raise RuntimeError(
                    f"{scenario.what}: wrapped app answered {got}, not {scenario.status}"
                )
            warm = ((bare, bare_scenario), (wrapped, scenario), (floor, bare_scenario))
            for server, case in warm:
                wrk(server.url, case, tmp, 1)  # warm caches, connections and the JIT-less loop
            bare_rps: list[float] = []
            wrapped_rps: list[float] = []
            floor_rps: list[float] = []
            for _ in range(ROUNDS):
                bare_rps.append(wrk(bare.url, bare_scenario, tmp, SECONDS))
                wrapped_rps.append(wrk(wrapped.url, scenario, tmp, SECONDS))
                if with_floor:
                    floor_rps.append(wrk(floor.url, bare_scenario, tmp, SECONDS))
            b, w = median(bare_rps), median(wrapped_rps)
            ratio = w / b
            figure = f"{b:,.0f} req/s bare, {w:,.0f} req/s wrapped: ratio {ratio:.2f}"
            if with_floor:
                figure += f" (floor, body read and replayed: {median(floor_rps) / b:.2f})"
            rows.append(Row(SECTION, scenario.what, figure, f">= {TARGET}", ratio >= TARGET))
            print(f"  {scenario.what}: {figure}", flush=True)
    return rows


# --- the floor, in process -------------------------------------------------------------

FLOOR_ROUNDS = 15
FLOOR_PER_ROUND = 400


async def measure_floor() -> list[Row]:
    """In process (no sockets), the DM through the bare app and through `BodyReplay`: what
    a pure-Python ASGI layer that must see the JSON body costs before it decides anything."""
    bare, floor = host_app(), BodyReplay(host_app())
    body = orjson.dumps({"to": "other-adult", "text": "hello there"})
    sc = scope("POST", "/api/messages", "adult", body)

    async def per_request(app: Any) -> float:
        start = time.perf_counter()
        for _ in range(FLOOR_PER_ROUND):
            await one(app, sc, body)
        return (time.perf_counter() - start) / FLOOR_PER_ROUND * 1e6

    for _ in range(50):
        await one(bare, sc, body)
        await one(floor, sc, body)
    bare_us: list[float] = []
    floor_us: list[float] = []
    parse_us: list[float] = []
    for _ in range(FLOOR_ROUNDS):
        bare_us.append(await per_request(bare))
        floor_us.append(await per_request(floor))
        start = time.perf_counter()
        for _ in range(FLOOR_PER_ROUND):
            orjson.loads(body)
        parse_us.append((time.perf_counter() - start) / FLOOR_PER_ROUND * 1e6)
    b, f = median(bare_us), median(floor_us)
    rows = [
        Row(
            FLOOR_SECTION,
            "in process, DM through a no-op pure-ASGI middleware that reads and replays the body",
            f"{b:.1f} µs bare, {f:.1f} µs: ratio {f / b:.2f} (+{f - b:.1f} µs)",
        ),
        Row(FLOOR_SECTION, "orjson.loads of the DM body", f"{median(parse_us):.2f} µs"),
    ]
    for row in rows:
        print(f"  {row.what}: {row.figure}", flush=True)
    return rows


def run() -> list[Row]:
    rows = asyncio.run(measure_floor())
    if not Path(WRK).exists():
        return not_measured() + rows
    with tempfile.TemporaryDirectory() as tmp:
        return measure_http(Path(tmp)) + rows
