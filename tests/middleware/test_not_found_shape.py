"""A hidden profile looks exactly like one that does not exist (issue 13, class 4).

The judge is the world where the child does not exist: the bytes a stranger gets for a
hidden under-13 must equal the bytes the same stranger gets, through the middleware, for
the same request once the child is gone from the app's table and from the bands (status,
every header in order, body); and status and body equal the bare app's. Apps answer "no
such user" in their own ways (FastAPI's JSON, Starlette's text, a 400 with headers, a
message naming the id); the policy says which per route (`not_found:`),
`safe-accounts policy not-found` reads it from the app, and without either the
framework's own 404 is the default.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts import SafeAccountsMiddleware
from safe_accounts.bands.age import AgeBand
from safe_accounts.bands.directory import BandDirectory
from safe_accounts.bands.store import OwnBandStore
from safe_accounts.bands.table import age_bands
from safe_accounts.clock import FrozenClock
from safe_accounts.policy.model import BandCacheSettings

from . import absent_apps
from .absent_apps import USERS

CHILD, ADULT, STRANGER = "1001", "1002", "1003"
BANDS = {CHILD: AgeBand.UNDER_13, ADULT: AgeBand.ADULT, STRANGER: AgeBand.ADULT}
NOBODY = "4242"  # an id no table has


def policy_text(template: str = "/users/{user_id}", not_found: str = "") -> str:
    route_not_found = textwrap.indent(not_found, " " * 4) if not_found else ""
    return textwrap.dedent(
        """
        version: 1
        name: absent
        extends: baseline
        defaults:
          time_budget_ms: 2000  # a loaded test machine, not a production budget
        identity:
          - source: header
            header: x-account-id
            trusted_proxies: ["127.0.0.1/32"]
        routes:
          - name: profile
            method: GET
            path: "{template}"
            action: profile_view
            targets: [{{path: user_id}}]
        """
    ).format(template=template) + route_not_found


Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


async def answer(app: Any, path: str, actor: str | None = STRANGER) -> Answer:
    """The bytes an app sends for `GET path`, as the server would write them."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
        "headers": [(b"host", b"testserver")] + ([(b"x-account-id", actor.encode())] if actor else []),
        "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], [(bytes(k), bytes(v)) for k, v in start["headers"]], body


def without(users: Mapping[str, str], account: str) -> dict[str, str]:
    return {k: v for k, v in users.items() if k != account}


async def child_gone(engine: AsyncEngine) -> None:
    """The child never signed up: no band record either (she is `unknown`, as anyone new)."""
    async with engine.begin() as conn:
        await conn.execute(age_bands.delete().where(age_bands.c.account_id == CHILD))


async def judged(
    wrap: Wrap, engine: AsyncEngine, build: Callable[[Mapping[str, str]], Any], policy: str, path: str
) -> Answer:
    """The hidden answer, checked against the world without the child; returned for more checks."""
    hidden = await answer(wrap(build(USERS), policy), path)
    await child_gone(engine)
    absent = await answer(wrap(build(without(USERS, CHILD)), policy), path)
    bare = await answer(build(without(USERS, CHILD)), path)
    assert hidden == absent
    assert (hidden[0], hidden[2]) == (bare[0], bare[2])
    # The app would show the child to this stranger: it is the middleware that hid her.
    assert (await answer(build(USERS), path))[0] == 200
    return hidden


@pytest.fixture
async def bands(engine: AsyncEngine, clock: FrozenClock) -> AsyncEngine:
    directory = BandDirectory(OwnBandStore(engine, clock=clock), cache=BandCacheSettings(), clock=clock)
    for account, band in BANDS.items():
        await directory.set(account, band=band)
    await directory.close()
    return engine


Wrap = Callable[..., Any]


@pytest.fixture
async def wrap(bands: AsyncEngine, tmp_path: Path, database_url: str, clock: FrozenClock) -> AsyncIterator[Wrap]:
    made: list[SafeAccountsMiddleware] = []

    def wrap_(app: Any, policy: str) -> SafeAccountsMiddleware:
        path = tmp_path / f"policy-{len(made)}.yaml"
        path.write_text(policy)
        middleware = SafeAccountsMiddleware(app, policy=path, database_url=database_url, clock=clock, signals=None)
        made.append(middleware)
        return middleware

    yield wrap_
    for middleware in made:
        await middleware.close()


@pytest.mark.parametrize(
    ("build", "media"),
    [(absent_apps.fastapi_plain, b"application/json"), (absent_apps.starlette_plain, b"text/plain; charset=utf-8")],
)
async def test_by_default_a_hidden_profile_answers_the_frameworks_own_404(
    wrap: Wrap, bands: AsyncEngine, build: Callable[[Mapping[str, str]], Any], media: bytes
) -> None:
    wrapped = wrap(build(USERS), policy_text())
    assert await answer(wrapped, f"/users/{CHILD}") == await answer(wrapped, f"/users/{NOBODY}")
    hidden = await judged(wrap, bands, build, policy_text(), f"/users/{CHILD}")
    assert (hidden[0], dict(hidden[1])[b"content-type"]) == (404, media)


async def test_a_route_whose_app_answers_a_400_with_its_own_headers_hides_with_the_same(
    wrap: Wrap, bands: AsyncEngine
) -> None:
    not_found = textwrap.dedent(
        """\
        not_found:
          status: 400
          content_type: application/json
          headers: {x-api-version: "3"}
          body: '{"detail":"unknown user"}'
        """
    )
    wrapped = wrap(absent_apps.starlette_400(USERS), policy_text(not_found=not_found))
    assert await answer(wrapped, f"/users/{CHILD}") == await answer(wrapped, f"/users/{NOBODY}")
    hidden = await judged(wrap, bands, absent_apps.starlette_400, policy_text(not_found=not_found), f"/users/{CHILD}")
    assert (hidden[0], dict(hidden[1])[b"x-api-version"]) == (400, b"3")


@pytest.mark.parametrize("spelling", [CHILD, "0001001", "01001"])
async def test_a_message_that_names_the_id_names_the_requests_own_id_as_the_app_would(
    wrap: Wrap, bands: AsyncEngine, spelling: str
) -> None:
    # FastAPI reads the id as an `int`: the app's message for `0001001` says `1001`.
    not_found = textwrap.dedent(
        """\
        not_found:
          content_type: application/json
          body: '{"detail":"User {path.user_id} not found"}'
        """
    )
    policy = policy_text("/users/{user_id:int}", not_found)
    hidden = await judged(wrap, bands, absent_apps.fastapi_named, policy, f"/users/{spelling}")
    assert hidden[2] == b'{"detail":"User 1001 not found"}'


async def test_a_hidden_profile_carries_nothing_of_ours_but_the_decision_log_has_it(wrap: Wrap) -> None:
    wrapped = wrap(absent_apps.fastapi_plain(USERS), policy_text())
    _, headers, body = await answer(wrapped, f"/users/{CHILD}")
    assert not any(name.startswith(b"safe-accounts") for name, _ in headers)
    assert body == b'{"detail":"Not Found"}'
    runtime = wrapped.runtime
    assert runtime is not None
    await runtime.decisions.flush()
    from safe_accounts.decisions.table import decision_log

    async with wrapped.engine.connect() as conn:
        rows = (await conn.execute(decision_log.select())).mappings().all()
    assert [(r["rule"], r["outcome"], r["target_id"]) for r in rows] == [
        ("hide-child-profile-from-adult-strangers", "hide", CHILD)
    ]


async def test_a_policy_wide_default_applies_to_every_route_without_its_own(wrap: Wrap, bands: AsyncEngine) -> None:
    policy = policy_text().replace(
        "defaults:\n",
        'defaults:\n  not_found: {status: 404, content_type: application/json, body: \'{"error":"no such user"}\'}\n',
    )
    hidden = await judged(wrap, bands, absent_apps.starlette_signed_in, policy, f"/users/{CHILD}")
    assert hidden[2] == b'{"error":"no such user"}'


# --- the tool -------------------------------------------------------------------------------


def paste(policy: str, block: str) -> str:
    """The tool's block, pasted under the profile route as its output says."""
    yaml_lines = [line for line in block.splitlines() if not line.startswith("#") and line.strip()]
    return policy + textwrap.indent("\n".join(yaml_lines) + "\n", " " * 4)


@pytest.mark.parametrize(
    ("attribute", "build", "template"),
    [
        ("named", absent_apps.fastapi_named, "/users/{user_id:int}"),
        ("plain", absent_apps.fastapi_plain, "/users/{user_id}"),
        ("starlette", absent_apps.starlette_plain, "/users/{user_id}"),
        ("bad_request", absent_apps.starlette_400, "/users/{user_id}"),
    ],
)
async def test_the_tool_proposes_the_block_that_makes_hidden_and_absent_identical(
    wrap: Wrap,
    bands: AsyncEngine,
    tmp_path: Path,
    cli: Any,
    attribute: str,
    build: Callable[[Mapping[str, str]], Any],
    template: str,
) -> None:
    policy = policy_text(template)
    (tmp_path / "app-policy.yaml").write_text(policy)
    # The command runs its own event loop, as from a shell: in a thread of its own here.
    ran = await asyncio.to_thread(
        cli, "policy", "not-found", str(tmp_path / "app-policy.yaml"),
        "--app", f"tests.middleware.absent_apps:{attribute}", "--route", "profile",
    )
    assert ran.code == 0, ran.out + ran.err
    assert "identical to the app's" in ran.out
    await judged(wrap, bands, build, paste(policy, ran.out), f"/users/{CHILD}")


def test_the_tool_says_when_the_app_wants_a_signed_in_account_and_takes_its_headers(
    tmp_path: Path, cli: Any
) -> None:
    (tmp_path / "app-policy.yaml").write_text(policy_text())
    args = ["policy", "not-found", str(tmp_path / "app-policy.yaml"), "--app", "tests.middleware.absent_apps:signed_in"]
    anonymous = cli(*args)
    signed_in = cli(*args, "--header", f"x-account-id: {STRANGER}")
    assert "refused an anonymous request (401)" in anonymous.out
    assert signed_in.code == 0, signed_in.out
    assert "status: 404" in signed_in.out and "no such user" in signed_in.out


def test_the_tool_fails_and_says_why_when_the_bytes_cannot_be_reproduced(tmp_path: Path, cli: Any) -> None:
    # The app reads the id as an `int` (`0042` is `42`), the route's template as text: the
    # policy could not write `42` back, and the tool says so and how to fix it.
    (tmp_path / "app-policy.yaml").write_text(policy_text())
    args = ["policy", "not-found", str(tmp_path / "app-policy.yaml"), "--app", "tests.middleware.absent_apps:named"]
    ran = cli(*args, "--id", "0042")
    assert ran.code == 1
    assert "# differs: the body differs" in ran.out
    assert "write {user_id:int} in the route's path" in ran.out
    (tmp_path / "app-policy.yaml").write_text(policy_text("/users/{user_id:int}"))
    assert cli(*args, "--id", "0042").code == 0


def test_the_tool_fails_when_a_body_that_names_the_id_would_be_answered_as_a_constant(
    tmp_path: Path, cli: Any
) -> None:
    # An app whose message changes per id in a way the proposal cannot follow (it names a
    # number derived from the id): a second absent id shows the difference.
    (tmp_path / "app-policy.yaml").write_text(policy_text())
    ran = cli(
        "policy", "not-found", str(tmp_path / "app-policy.yaml"),
        "--app", "tests.middleware.absent_apps:hashed", "--id", "7",
    )
    assert ran.code == 1
    assert "for a second absent id (/users/08)" in ran.out
