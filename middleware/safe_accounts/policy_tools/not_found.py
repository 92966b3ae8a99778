"""`safe-accounts policy not-found`: what the app answers for an account that does not exist.

A hidden account must answer exactly what the app answers for an id it has never had,
or a stranger learns which ids are hidden children. This asks the app itself: one
request through the bare app, in process (its lifespan started first when it has one),
on the route with a random id that cannot exist; the answer becomes the route's
`not_found:` block, which is then compiled and replayed for the same request and compared
with the app's bytes, so the tool says whether the middleware's answer is identical.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import yaml

from .._types import ASGIApp, Message
from ..pipeline.compiled import CompiledPolicy, CompiledRoute
from ..pipeline.not_found import compile_not_found
from ..pipeline.request_view import RequestView, parse_query
from ..pipeline.targets import PathSource, QuerySource
from ..policy.model import NotFound, Outcome

# A template parameter, as Starlette writes them: `{name}` or `{name:convertor}`.
_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-zA-Z_][a-zA-Z0-9_]*))?}")
# The frameworks' own headers never differ between two answers of one route; these do.
_LENGTH, _TYPE = b"content-length", b"content-type"
# How long the app gets to start and to answer: a probe that hangs says so.
TIMEOUT = 30.0


class ProbeFailed(Exception):
    """The app could not be asked (its start-up failed, it raised, it never answered)."""


@dataclass
class Probe:
    """One route's probe: what was sent, what the app answered, and the proposal."""

    route: str
    method: str
    target: str  # path and query, as sent
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    proposal: NotFound | None = None
    # Where the middleware's answer from `proposal` would differ from the app's (none: identical).
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return self.proposal is not None and not self.differences

    def yaml(self) -> str:
        if self.proposal is None:
            return ""
        block = self.proposal.model_dump(exclude_defaults=False)
        if not block["headers"]:
            del block["headers"]
        return yaml.safe_dump({"not_found": block}, sort_keys=False, allow_unicode=True, width=1_000_000)


def hidden_routes(policy: CompiledPolicy) -> list[CompiledRoute]:
    """The HTTP routes a `hide` rule can answer for, whose target is in the path or query."""
    return [
        route
        for route in policy.routes
        if not route.is_websocket
        and any(rule.outcome is Outcome.HIDE for rule in route.rules.rules)
        and any(isinstance(source, (PathSource, QuerySource)) for source in route.targets.sources)
    ]


async def probe(
    app: ASGIApp,
    routes: Sequence[CompiledRoute],
    *,
    account_id: str | None = None,
    headers: Sequence[tuple[str, str]] = (),
) -> list[Probe]:
    """Ask the app about an account that does not exist on each route, in one lifespan."""
    async with _started(app) as state:
        return [await _probe(app, state, route, account_id, headers) for route in routes]


def request_for(route: CompiledRoute, account_id: str | None) -> tuple[str, str, dict[str, str], str]:
    """(method, path, path parameters, query string) of a request naming an absent account."""
    method = "GET" if "GET" in route.methods else route.methods[0]
    query_names = [s.name for s in route.targets.sources if isinstance(s, QuerySource)]
    params: dict[str, str] = {}

    def value(found: re.Match[str]) -> str:
        params[found.group(1)] = _absent_id(found.group(2), account_id)
        return quote(params[found.group(1)], safe="")

    path = _PARAM.sub(value, route.template)
    query = urlencode([(name, _absent_id(None, account_id)) for name in query_names])
    return method, path, params, query


def _absent_id(convertor: str | None, given: str | None) -> str:
    if given is not None:
        return given
    if convertor == "uuid":
        return str(uuid.uuid4())
    # Ten digits, under 2**31: a valid id to an `int` handler, a 32-bit column and a string
    # column alike, and not one any table is likely to hold.
    return str(1_000_000_000 + secrets.randbelow(1_000_000_000))


def _another(account_id: str) -> str:
    """An id of the same shape as `account_id`, differing in its last character."""
    last = account_id[-1:]
    if last.isdigit():
        return account_id[:-1] + str((int(last) + 1) % 10)
    if last.isalpha():
        return account_id[:-1] + ("a" if last.lower() == "z" else chr(ord(last) + 1))
    return account_id + "0"


async def _probe(
    app: ASGIApp,
    state: dict[str, Any],
    route: CompiledRoute,
    account_id: str | None,
    headers: Sequence[tuple[str, str]],
) -> Probe:
    method, path, params, query = request_for(route, account_id)
    found = Probe(route.name, method, path + (f"?{query}" if query else ""))
    start, found.body = await call(app, state, method, path, query, headers)
    found.status = start["status"]
    found.headers = [(bytes(k), bytes(v)) for k, v in start.get("headers") or ()]
    _note(found)
    found.proposal = _proposal(found, route, params, query)
    if found.proposal is None:
        return found
    answer = compile_not_found(found.proposal, route.template)
    view = RequestView(method, path, params, parse_query(query.encode()), None)
    found.differences = await _differences(found.status, found.headers, found.body, answer, view)
    # A second absent id: a body that names the id must follow it, and a number must be
    # written as the app writes it however it is padded (`0` + digits).
    first = next(iter(params.values()), None) or next((v for _, v in parse_query(query.encode())), None)
    if first is not None and not found.differences:
        second = ("0" if first.isdigit() else "") + _another(first)
        method, path, params, query = request_for(route, second)
        start, body = await call(app, state, method, path, query, headers)
        view = RequestView(method, path, params, parse_query(query.encode()), None)
        headers_sent = [(bytes(k), bytes(v)) for k, v in start.get("headers") or ()]
        for difference in await _differences(start["status"], headers_sent, body, answer, view):
            found.differences.append(f"for a second absent id ({path}{'?' + query if query else ''}): {difference}")
        if found.differences and first.isdigit() and str(int(second)).encode() in body:
            found.notes.append(
                "the app writes a padded id as a number: write the parameter as {name:int} in the route's path"
            )
    return found


def _note(found: Probe) -> None:
    if found.status in (401, 403):
        found.notes.append(
            f"the app refused an anonymous request ({found.status}): give a signed-in account's headers with --header"
        )
    elif found.status in (400, 422):
        found.notes.append(
            f"the app answered {found.status}: if that is its answer to an id of the wrong shape rather than "
            "to an unknown one, give an id of the right shape with --id"
        )
    elif found.status < 400:
        found.notes.append(f"the app answered {found.status} for an id it should not have: is it the right route?")


def _proposal(found: Probe, route: CompiledRoute, params: dict[str, str], query: str) -> NotFound | None:
    try:
        text = found.body.decode()
    except UnicodeDecodeError:
        found.notes.append("the app's answer is not UTF-8 text: write `not_found` by hand")
        return None
    if found.status < 200:
        return None
    # The id the app names in its message becomes a slot the request's own id fills.
    convertors = {m.group(1): m.group(2) or "str" for m in _PARAM.finditer(route.template)}
    for name, value in params.items():
        if value in text:
            text = text.replace(value, f"{{path.{name}}}")
        elif value.isdigit() and str(int(value)) in text:
            # The app read the id as a number (`0042` is `42`): so must the template.
            text = text.replace(str(int(value)), f"{{path.{name}}}")
            if convertors.get(name) != "int":
                found.notes.append(
                    f"the app reads {{{name}}} as a number: write {{{name}:int}} in the route's path, "
                    f"so that {{path.{name}}} is written as the app writes it"
                )
    for name, value in parse_query(query.encode()):
        text = text.replace(value, f"{{query.{name}}}")
    content_type = next((v.decode("latin-1") for k, v in found.headers if k.lower() == _TYPE), None)
    others = {k.decode("latin-1"): v.decode("latin-1") for k, v in found.headers if k.lower() not in (_LENGTH, _TYPE)}
    try:
        return NotFound(status=found.status, content_type=content_type, headers=others, body=text)
    except ValueError as exc:
        found.notes.append(f"the app's answer cannot be written as `not_found`: {exc}")
        return None


async def _differences(
    status: int, headers: list[tuple[bytes, bytes]], body: bytes, answer: Any, view: RequestView
) -> list[str]:
    """Where the middleware's answer for `view` would differ from what the app sent."""
    sent: list[Message] = []

    async def keep(message: Message) -> None:
        sent.append(message)

    await answer.send(keep, view)
    ours_headers = [(bytes(k), bytes(v)) for k, v in sent[0]["headers"]]
    ours_body = b"".join(m.get("body", b"") for m in sent[1:])
    differences = []
    if sent[0]["status"] != status:
        differences.append(f"status {sent[0]['status']} where the app sent {status}")
    if ours_body != body:
        differences.append(f"the body differs: {ours_body!r} where the app sent {body!r}")
    elif ours_headers != headers:
        if _LENGTH not in {k.lower() for k, _ in headers}:
            differences.append("the app sends no content-length (a streamed answer); ours has one")
        elif sorted(ours_headers) == sorted(headers):
            differences.append("the app writes its headers in another order than Starlette's")
        else:
            differences.append(f"headers {ours_headers!r} where the app sent {headers!r}")
    return differences


async def call(
    app: ASGIApp,
    state: dict[str, Any],
    method: str,
    path: str,
    query: str,
    headers: Sequence[tuple[str, str]],
    *,
    body: bytes = b"",
) -> tuple[Message, bytes]:
    """One request through `app`, in process: (the response start message, the body)."""
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": quote(path).encode(),
        "root_path": "", "query_string": query.encode(), "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80), "state": dict(state),
        "headers": [(b"host", b"localhost"), *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers)],
    }
    requests: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    done = asyncio.Event()
    start: list[Message] = []
    chunks: list[bytes] = []

    async def receive() -> Message:
        if requests:
            return requests.pop()
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.append(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    try:
        async with asyncio.timeout(TIMEOUT):
            await app(scope, receive, send)
    except TimeoutError:
        raise ProbeFailed(f"{method} {path} got no answer within {TIMEOUT:.0f} s") from None
    except Exception as exc:  # the app's own failure, reported as such
        raise ProbeFailed(f"{method} {path} raised {exc.__class__.__name__}: {exc}") from exc
    if not start:
        raise ProbeFailed(f"{method} {path} ended without an answer")
    return start[0], b"".join(chunks)


@contextlib.asynccontextmanager
async def _started(app: ASGIApp) -> AsyncIterator[dict[str, Any]]:
    """The app's lifespan, as a server runs it: started before the probes, shut down after.
    An app without lifespan support (it raises on the scope) is probed as it is."""
    state: dict[str, Any] = {}
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": state}
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    task: asyncio.Future[None] = asyncio.ensure_future(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    reply = await _reply(task, outbox)
    if reply is None:  # no lifespan: nothing to start or stop
        yield state
        return
    if reply["type"] != "lifespan.startup.complete":
        raise ProbeFailed(f"the app's start-up failed: {reply.get('message', '')}")
    try:
        yield state
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await _reply(task, outbox)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, TIMEOUT)


async def _reply(task: asyncio.Future[None], outbox: asyncio.Queue[Message]) -> Message | None:
    getter = asyncio.ensure_future(outbox.get())
    waiting: set[asyncio.Future[Any]] = {getter, task}
    done, _ = await asyncio.wait(waiting, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
    if getter in done:
        return getter.result()
    getter.cancel()
    if task in done:
        task.exception()  # retrieved: an app without lifespan raises on the scope
        return None
    raise ProbeFailed(f"the app's lifespan did not answer within {TIMEOUT:.0f} s")
