"""`safe-accounts policy doctor`: is the middleware wired so that it sees what the app sees?

A policy can check clean and still protect nobody: the middleware outside the app's
authentication sees every actor as anonymous, a band store that knows none of the app's
accounts makes everyone `unknown`, a relationship query over the wrong table finds no
parent, a target path that is not where the app's requests carry the account finds no
child. None of that is visible in a policy file. The doctor asks the app itself.

It imports the app as it is served (with the integrator's own wiring), starts its
lifespan, and sends probe requests through it, in process, signed in as the accounts the
integrator names (`--as ID=Header: value`), each naming the other accounts as targets on
every route it can build a request for. Then it reports, per section:

- identity: whom the middleware saw on each probe (every probe anonymous: wrong wiring);
- bands: what the band store holds for each probed account (no record: `unknown`);
- relationships: what the connected and mutual lookups answer for each pair;
- targets: the accounts each protected route read from its probe;
- answers: what came back, and which rule decided;
- not found: the app's own answer for an absent id on each route a `hide` can answer.

It changes nothing: the signals pipeline is not attached (no event, alert, report or
restriction), decision-log rows are kept in memory and shown, and a probe whose method
writes (anything but GET and HEAD) is answered by the doctor instead of the app.
"""

from __future__ import annotations

import json as jsonlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from .._types import ASGIApp, Receive, Scope, Send
from ..pipeline.compiled import CompiledPolicy, CompiledRoute
from ..pipeline.request_view import RequestView, parse_query
from ..pipeline.targets import TargetsUnread
from ..policy.model import Action, FormTarget, JsonTarget, PathTarget, QueryTarget, Route
from . import not_found

_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-zA-Z_][a-zA-Z0-9_]*))?}")
_READS = ("GET", "HEAD")
WRONG_WIRING = (
    "every probe was anonymous: the middleware does not see the app's sign-in. Wrapped outside "
    "the app's authentication with `scope_user`, or an `identity:` that reads something these "
    "requests do not carry? See docs/middleware.md, 'Identity: who is acting'"
)


@dataclass(frozen=True, slots=True)
class Account:
    """A probed account: its id and the headers that sign a request in as it."""

    id: str
    headers: tuple[tuple[str, str], ...]


@dataclass
class Probe:
    account: str
    route: str
    method: str
    target: str  # path and query, as sent
    named: list[str]  # the accounts the request names
    seen_as: str | None = None
    status: int = 0
    read: list[str] | None = None  # targets the route read (None: not asked, e.g. discovery)
    decisions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Report:
    probes: list[Probe] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    bands: dict[str, tuple[str, bool]] = field(default_factory=dict)
    relationships: list[str] = field(default_factory=list)
    not_found: list[not_found.Probe] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"note: {note}" for note in self.notes]
        out.append("identity")
        for account in dict.fromkeys(p.account for p in self.probes):
            seen = sorted(
                {str(p.seen_as) if p.seen_as is not None else "anonymous" for p in self.probes if p.account == account}
            )
            out.append(f"  --as {account}: seen as {', '.join(seen)}")
        out.append("bands")
        for account, (band, exists) in self.bands.items():
            out.append(f"  {account}: {band}" + ("" if exists else " (no record in the band store)"))
        out.append("relationships")
        out.extend(f"  {line}" for line in self.relationships or ["(no pair probed)"])
        out.append("targets and answers")
        for probe in self.probes:
            read = "" if probe.read is None else f"; read {', '.join(probe.read) or 'no target'}"
            rules = sorted({str(d["rule"]) for d in probe.decisions})
            decided = f"; decided by {', '.join(rules)}" if rules else ""
            out.append(
                f"  {probe.route}: {probe.method} {probe.target} as {probe.account} -> {probe.status}{read}{decided}"
            )
        out.extend(f"  skipped: {reason}" for reason in self.skipped)
        out.append("not found")
        if not self.not_found:
            out.append("  (no route a `hide` rule answers with the target in its path or query)")
        for found in self.not_found:
            state = "identical" if found.identical else "DIFFERS"
            out.append(
                f"  {found.route}: {found.method} {found.target} -> {found.status} in the app; "
                f"the middleware's answer {state}"
            )
            out.extend(f"    {line}" for line in [*found.notes, *found.differences])
        out.extend(f"PROBLEM: {problem}" for problem in self.problems)
        return out


class _Watching:
    """The middleware's identity resolver, noting whom each request was seen as."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.is_async = inner.is_async
        self.last: str | None = None

    def resolve(self, scope: Scope) -> str | None:
        self.last = self.inner.resolve(scope)
        return self.last

    async def resolve_async(self, scope: Scope) -> str | None:
        self.last = await self.inner.resolve_async(scope)
        return self.last


class _Decisions:
    """Decision-log rows kept in memory: the doctor writes nothing."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def record(self, row: Any) -> None:
        self.rows.append(row._asdict())

    async def record_before_answer(self, rows: Sequence[Any], *, within: float) -> bool:
        """A refusal's rows: in memory is on the record, as far as the doctor goes."""
        for row in rows:
            self.record(row)
        return True

    async def flush(self) -> None: ...

    async def close(self) -> None: ...

    def health(self) -> dict[str, Any]:
        return {"queued": 0}


def _write_guard(app: ASGIApp) -> ASGIApp:
    """The app for reads; a writing probe is answered here, never delivered."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in _READS:
            await app(scope, receive, send)
            return
        body = b"{}"
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        ]})
        await send({"type": "http.response.body", "body": body})

    return guarded


def find_middleware(app: Any) -> Any:
    """The SafeAccountsMiddleware in the app as served (behind any middleware), or None:
    the layer that holds a compiled policy and a runtime (known by what it holds, since the
    tools sit below the entry point)."""
    current, seen = app, set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(getattr(current, "policy", None), CompiledPolicy) and hasattr(current, "runtime"):
            return current
        if getattr(current, "middleware_stack", 0) is None and hasattr(current, "build_middleware_stack"):
            current.middleware_stack = current.build_middleware_stack()  # Starlette builds it lazily
        nxt = getattr(current, "middleware_stack", None)
        current = nxt if nxt is not None and id(nxt) not in seen else getattr(current, "app", None)
    return None


async def diagnose(
    served: ASGIApp,
    middleware: Any,
    accounts: Sequence[Account],
    *,
    targets: Sequence[str] = (),
    params: dict[str, str] | None = None,
) -> Report:
    """Probe `served` (which holds `middleware`, not yet started) and report."""
    report = Report()
    middleware._attach = None  # no signals, alerts, reports or restrictions from probes
    watching = _Watching(middleware._identity)
    middleware._identity = watching
    inner = middleware.app
    middleware.app = _write_guard(inner)
    try:
        async with not_found._started(served) as state:
            runtime = middleware.runtime or await middleware.start()
            decisions = _Decisions()
            await runtime.decisions.close()
            runtime.decisions = decisions
            policy = middleware.policy
            for account in accounts:
                named = [t for t in (targets or [a.id for a in accounts]) if t != account.id] or list(targets)
                for index, route in enumerate(policy.routes):
                    if route.is_websocket:
                        continue
                    request = _request(policy.policy.routes[index], route, named, params or {})
                    if isinstance(request, str):
                        if account is accounts[0]:
                            report.skipped.append(f"{route.name}: {request}")
                        continue
                    method, path, query, body, content_type = request
                    before = len(decisions.rows)
                    watching.last = None
                    status = await _send(served, state, method, path, query, body, content_type, account.headers)
                    probe = Probe(account.id, route.name, method, path + (f"?{query}" if query else ""), named)
                    probe.status, probe.seen_as = status, watching.last
                    probe.decisions = decisions.rows[before:]
                    probe.read = await _read(route, method, path, query, body, content_type, watching.last)
                    report.probes.append(probe)
            await _facts(report, runtime, accounts, targets)
            hidden = not_found.hidden_routes(policy)
            if hidden:
                try:
                    report.not_found = await not_found.probe(inner, hidden, headers=accounts[0].headers)
                except not_found.ProbeFailed as exc:
                    report.problems.append(f"not found: the app could not be asked: {exc}")
    finally:
        middleware.app = inner
        middleware._identity = watching.inner
    _judge(report, accounts)
    return report


def _request(
    spec: Route, route: CompiledRoute, named: Sequence[str], params: dict[str, str]
) -> tuple[str, str, str, bytes, str | None] | str:
    """(method, path, query, body, content type) of a probe naming `named`, or why none."""
    method = "GET" if "GET" in route.methods else route.methods[0]
    first = named[0] if named else None
    path_targets = {t.path for t in spec.targets if isinstance(t, PathTarget)}
    missing: list[str] = []

    def fill(found: re.Match[str]) -> str:
        name = found.group(1)
        value = params.get(name) or (first if name in path_targets else None)
        if value is None:
            missing.append(name)
            return found.group(0)
        return quote(value, safe="")

    path = _PARAM.sub(fill, route.template)
    if missing:
        return f"give a value for {', '.join('{' + m + '}' for m in missing)} with --param NAME=VALUE"
    if route.action is not Action.DISCOVERY and spec.targets and not named:
        return "no account to name: give --target ID"
    query = urlencode([(t.query, first) for t in spec.targets if isinstance(t, QueryTarget) and first])
    document: Any = None
    form: list[tuple[str, str]] = []
    for target in spec.targets:
        if isinstance(target, JsonTarget) and first is not None and "~" not in target.json_:
            document = _put(document, target.json_, first)
        elif isinstance(target, FormTarget) and first is not None:
            form.append((target.form, first))
    if document is not None:
        return method, path, query, jsonlib.dumps(document).encode(), "application/json"
    if form:
        return method, path, query, urlencode(form).encode(), "application/x-www-form-urlencoded"
    return method, path, query, b"", None


def _put(document: Any, path: str, value: str) -> Any:
    """`document` with `value` where the JSON path `path` (`to`, `participants[*].id`) reads;
    where two paths disagree on a shape, the first one written keeps it."""
    steps = [step for step in re.split(r"\.|(\[\*\])", path) if step]

    def shape(rest: list[str]) -> Any:
        if not rest:
            return value
        return [shape(rest[1:])] if rest[0] == "[*]" else {rest[0]: shape(rest[1:])}

    return _merged(document, shape(steps))


def _merged(first: Any, second: Any) -> Any:
    if first is None:
        return second
    if isinstance(first, dict) and isinstance(second, dict):
        for key, value in second.items():
            first[key] = _merged(first.get(key), value)
    return first


async def _send(
    app: ASGIApp, state: dict[str, Any], method: str, path: str, query: str, body: bytes,
    content_type: str | None, headers: Sequence[tuple[str, str]],
) -> int:
    sent = list(headers)
    if content_type is not None:
        sent += [("content-type", content_type), ("content-length", str(len(body)))]
    start, _ = await not_found.call(app, state, method, path, query, sent, body=body)
    return int(start["status"])


async def _read(
    route: CompiledRoute, method: str, path: str, query: str, body: bytes, content_type: str | None, actor: str | None
) -> list[str] | None:
    """The targets the route reads from the probe, as the request path reads them."""
    if route.action is Action.DISCOVERY or not route.targets.sources:
        return None
    view = RequestView(method, path, _params_of(route.template, path), parse_query(query.encode()), actor)
    if content_type == "application/json":
        view.json = jsonlib.loads(body)
    elif content_type is not None:
        view.form = parse_query(body)
    try:
        return await route.targets.extract(view)
    except TargetsUnread:
        return []
    except Exception as exc:  # noqa: BLE001 - a lookup of the host's: said, not raised
        return [f"(the lookup failed: {exc.__class__.__name__}: {exc})"]


def _params_of(template: str, path: str) -> dict[str, str]:
    from ..policy.paths import compile_template

    found = re.match(compile_template(template).pattern + "$", path)
    return {} if found is None else dict(found.groupdict())


async def _facts(report: Report, runtime: Any, accounts: Sequence[Account], targets: Sequence[str]) -> None:
    ids = list(dict.fromkeys([*(a.id for a in accounts), *targets]))
    try:
        records = await runtime.bands.get_many(ids)
    except Exception as exc:  # noqa: BLE001
        report.problems.append(f"bands: the band store could not be read: {exc}")
        records = {}
    for account_id in ids:
        record = records.get(account_id)
        if record is not None:
            report.bands[account_id] = (record.band.value, record.exists)
    relationships = runtime.relationships
    if not relationships.knows_connections:
        report.relationships.append("no `relationships.connected` lookup: every pair is strangers")
    for account in accounts:
        for other in ids:
            if other == account.id:
                continue
            try:
                connected = other in await relationships.connected_among(account.id, [other])
                mutual = await relationships.mutual(account.id, other)
            except Exception as exc:  # noqa: BLE001 - the host's lookup: reported
                report.problems.append(f"relationships: the lookup failed for ({account.id}, {other}): {exc}")
                continue
            report.relationships.append(f"{account.id} -> {other}: connected={connected}, mutual connections={mutual}")


def _judge(report: Report, accounts: Sequence[Account]) -> None:
    if report.probes and all(p.seen_as is None for p in report.probes):
        report.problems.append(f"identity: {WRONG_WIRING}")
    else:
        for account in accounts:
            seen = {p.seen_as for p in report.probes if p.account == account.id}
            if seen and seen != {account.id}:
                shown = ", ".join(sorted("anonymous" if s is None else s for s in seen))
                report.problems.append(f"identity: requests signed in as {account.id} were seen as {shown}")
    for account_id, (band, exists) in report.bands.items():
        if not exists:
            report.problems.append(
                f"bands: the band store has no record of {account_id}: it is `{band}` to every rule "
                "(check `bands:` in the policy, or record it: `safe-accounts bands set`)"
            )
    for probe in report.probes:
        if probe.read is not None and probe.named and not probe.read:
            report.problems.append(
                f"targets: route {probe.route} read no account from {probe.method} {probe.target} naming "
                f"{', '.join(probe.named)}: check its `targets`"
            )
        elif probe.read and any(t.startswith("(the lookup failed") for t in probe.read):
            report.problems.append(f"targets: route {probe.route}: {probe.read[0][1:-1]}")
    for found in report.not_found:
        if not found.identical:
            report.problems.append(
                f"not found: on route {found.route} a hidden account would not look absent "
                "(run `safe-accounts policy not-found` for the block to paste)"
            )
