"""`safe-accounts policy check | test | explain | coverage | not-found | doctor | schema`: policy files,
checked before they are deployed."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from .._callables import import_callable
from ..alerts.restrictions import Restrictions
from ..clock import SYSTEM_CLOCK
from ..errors import ConfigurationError, PolicyError, PolicyProblem
from ..pipeline.compiled import CompiledPolicy
from ..policy import load_policy, policy_json_schema
from ..policy_tools.app_routes import Uninspectable, resolve_app
from ..policy_tools.coverage import account_like
from ..policy_tools.coverage import coverage as route_coverage
from ..policy_tools.explain import explain as explain_request
from ..policy_tools.not_found import ProbeFailed, hidden_routes
from ..policy_tools.not_found import probe as probe_not_found
from ..policy_tools.testing import run_tests
from ..runtime import open_runtime
from ._common import database_option, run
from ._settings import open_engine


@click.group(name="policy")
def command() -> None:
    """Policy files: check, test, explain, coverage, not-found, doctor, JSON Schema."""


@command.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def check(files: tuple[Path, ...]) -> None:
    """Load each FILE (following `extends`) and list every problem as file:line: reason.

    Exits 1 if any file has a problem, so it can guard a deployment or a CI job. A file that
    loads is followed by its notes (file:line: note: reason): what it inherits from a
    bundled policy and cannot do as written, such as a baseline signal whose lookup the
    file does not declare.
    """
    failed = False
    for file in files:
        try:
            loaded = load_policy(file)
        except PolicyError as exc:
            failed = True
            for problem in exc.problems:
                click.echo(str(problem))
            continue
        policy = loaded.policy
        signals = len(policy.signals.counts) + len(policy.signals.rates) + len(policy.signals.scores)
        click.echo(
            f"{file}: ok ({_count(len(policy.routes), 'route')}, {_count(len(policy.rules), 'rule')}, "
            f"{_count(signals, 'signal')}, version {loaded.version})"
        )
        for notice in loaded.notices:
            click.echo(_note(notice))
    if failed:
        # SystemExit, not click's Exit: `run_cli` runs click with standalone_mode=False,
        # where an Exit's code is returned and dropped.
        raise SystemExit(1)


@command.command()
def schema() -> None:
    """Print the policy file's JSON Schema (docs/policy.schema.json is this output)."""
    click.echo(json.dumps(policy_json_schema(), indent=2, ensure_ascii=False))


def _note(notice: PolicyProblem) -> str:
    return str(PolicyProblem(notice.file, notice.line, f"note: {notice.reason}", path=notice.path))


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _loaded(file: Path) -> Any:
    try:
        return load_policy(file)
    except PolicyError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise SystemExit(1) from None


@command.command(name="test")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-v", "--verbose", is_flag=True, help="List passing cases too.")
def test_(files: tuple[Path, ...], verbose: bool) -> None:
    """Run the test cases each FILE carries (its own and its bases'), like `opa test`.

    Each case gives accounts with bands, connections, and an action or a request; the
    rules decide in memory exactly as the middleware's engine does. A case naming a rule
    the file switches off is skipped, and listed. Exits 1 on any failure.
    """
    failures = 0
    for file in files:
        loaded = _loaded(file)
        results = run(run_tests, CompiledPolicy(loaded.policy, loaded.version, identity=False))
        for result in results:
            if result.skipped is not None:
                click.echo(f"SKIP {file}: {result.name}: {result.skipped}")
            elif not result.passed:
                failures += 1
                rule = f", rule {result.rule}" if result.rule else ""
                click.echo(
                    f"FAIL {file}: {result.name}: expected {result.expected}, got {result.got}{rule} ({result.note})"
                )
            elif verbose:
                click.echo(f"ok   {file}: {result.name}")
        skipped = sum(r.skipped is not None for r in results)
        passed = sum(r.passed for r in results)
        summary = f"{file}: {passed}/{len(results) - skipped} cases passed"
        click.echo(summary + (f", {skipped} skipped (their rule is switched off)" if skipped else ""))
    if failures:
        raise SystemExit(1)


@command.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--as", "actor", default=None, help="The acting account (default: anonymous).")
@click.option("--request", "request", required=True, help='The request, e.g. "POST /api/messages".')
@click.option("--json", "body", default=None, help="The JSON body, as text.")
@click.option("--form", "form", multiple=True, help="A form field, NAME=VALUE (repeatable).")
@database_option
def explain(
    file: Path, actor: str | None, request: str, body: str | None, form: tuple[str, ...], database_url: str | None
) -> None:
    """Which rule applies to a request and why, using the real bands and relationships in the
    database (nothing is written)."""
    loaded = _loaded(file)
    try:
        document = json.loads(body) if body is not None else None
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--json") from None
    fields: dict[str, str] = {}
    for item in form:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--form")
        fields[name] = value
    if " " not in request.strip() or not request.strip().split(" ", 1)[1].startswith("/"):
        raise click.BadParameter('write it as "METHOD /path"', param_hint="--request")
    for line in run(_explain, loaded, database_url, actor, request, document, fields or None):
        click.echo(line)


async def _explain(
    loaded: Any, database_url: str | None, actor: str | None, request: str, document: Any, form: Any
) -> list[str]:
    engine = open_engine(database_url)
    try:
        policy = CompiledPolicy(loaded.policy, loaded.version, engine, identity=False)
        runtime = await open_runtime(policy, engine, clock=SYSTEM_CLOCK, redis_url=None)
        # Restrictions in force, read once: a restricted actor or target changes the verdict.
        restrictions = Restrictions(engine)
        await restrictions.refresh()
        runtime.restrictions = restrictions
        try:
            return (await explain_request(runtime, actor, request, json=document, form=form)).lines()
        finally:
            await runtime.close()
    finally:
        await engine.dispose()


@command.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--app", "app_spec", required=True, help="The app to inspect, as module:attribute.")
@click.option(
    "--factory/--no-factory",
    default=None,
    help="Whether module:attribute is a function that builds the app (default: told from how it is called).",
)
def coverage(file: Path, app_spec: str, factory: bool | None) -> None:
    """The app's routes that FILE does not classify; those that look like a way to reach
    an account (account-like parameters, contact-shaped paths) are flagged. Exits 1 if any
    flagged route is left unclassified, or if any part of the app cannot be inspected
    (a route nobody can see is a route nobody checked)."""
    loaded = _loaded(file)
    policy = CompiledPolicy(loaded.policy, loaded.version, identity=False)
    if ":" not in app_spec:
        raise click.BadParameter("write it as module:attribute", param_hint="--app")
    # Like uvicorn: the app is imported from the working directory.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        found = import_callable(app_spec)
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), param_hint="--app") from None
    except Exception as exc:  # noqa: BLE001 - the app's own start-up code failed
        raise click.ClickException(f"importing {app_spec} failed: {exc.__class__.__name__}: {exc}") from None
    try:
        app = resolve_app(found, app_spec, factory=factory)
    except Uninspectable as exc:
        raise click.ClickException(f"{app_spec}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the app factory's own code failed
        raise click.ClickException(f"building {app_spec} failed: {exc.__class__.__name__}: {exc}") from None
    try:
        result = route_coverage(policy, app)
    except Uninspectable as exc:
        raise click.ClickException(f"{app_spec}: {exc}") from None
    if not result.classified and not result.unclassified and not result.reviewed:
        raise click.ClickException(f"{app_spec} has no routes to inspect")
    for route, names in result.classified:
        click.echo(f"  covered    {'|'.join(route.methods):<10} {route.path}  -> {names}")
    for route, reason in result.reviewed:
        click.echo(f"  reviewed   {'|'.join(route.methods):<10} {route.path}  ({reason})")
    risky = set(map(id, result.risky))
    for route in result.unclassified:
        flag = "UNCOVERED" if id(route) in risky else "unclassified"
        params = account_like(route)
        why = f"  (account-like: {', '.join(params)})" if params else ""
        click.echo(f"  {flag:<10} {'|'.join(route.methods):<10} {route.path}{why}")
    click.echo(
        f"{len(result.classified)} covered, {len(result.reviewed)} reviewed, {len(result.unclassified)} unclassified, "
        f"{len(result.risky)} of them could reach an account"
    )
    if result.risky:
        raise SystemExit(1)


@command.command(name="not-found")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--app", "app_spec", required=True, help="The app to ask, as module:attribute.")
@click.option(
    "--factory/--no-factory",
    default=None,
    help="Whether module:attribute is a function that builds the app (default: told from how it is called).",
)
@click.option(
    "--route", "names", multiple=True,
    help="A route of FILE, by name (repeatable; default: every route a `hide` rule can answer).",
)
@click.option("--id", "account_id", default=None, help="The absent id to ask for (default: a random one).")
@click.option(
    "--header", "headers", multiple=True, help='A request header, "Name: value" (repeatable), e.g. a session.'
)
def not_found(
    file: Path,
    app_spec: str,
    factory: bool | None,
    names: tuple[str, ...],
    account_id: str | None,
    headers: tuple[str, ...],
) -> None:
    """What the app answers on a route for an account that does not exist, as the route's
    `not_found:` block to paste into FILE: a hidden account then answers the same bytes.

    The request goes through the bare app, in process (its lifespan started first). Exits 1
    unless the middleware's answer from each block would be identical to the app's.
    """
    loaded = _loaded(file)
    policy = CompiledPolicy(loaded.policy, loaded.version, identity=False)
    by_name = {route.name: route for route in policy.routes}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)}: no such route in {file}", param_hint="--route")
    routes = [by_name[name] for name in names] if names else hidden_routes(policy)
    if not routes:
        raise click.ClickException(f"{file}: no route a `hide` rule answers (name one with --route)")
    pairs: list[tuple[str, str]] = []
    for header in headers:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            raise click.BadParameter(f"{header!r} is not Name: value", param_hint="--header")
        pairs.append((name.strip(), value.strip()))
    app = _app(app_spec, factory)
    try:
        probes = run(probe_not_found, app, routes, account_id=account_id, headers=pairs)
    except ProbeFailed as exc:
        raise click.ClickException(str(exc)) from None
    for found in probes:
        click.echo(f"# route {found.route}: {found.method} {found.target} -> {found.status} in the app")
        for note in found.notes:
            click.echo(f"# note: {note}")
        for difference in found.differences:
            click.echo(f"# differs: {difference}")
        if found.identical:
            click.echo("# a hidden account answers these bytes, identical to the app's; paste under the route:")
        click.echo(found.yaml())
    if not all(found.identical for found in probes):
        raise SystemExit(1)


def _app(app_spec: str, factory: bool | None) -> Any:
    """The app `app_spec` names (imported from the working directory, as uvicorn does)."""
    if ":" not in app_spec:
        raise click.BadParameter("write it as module:attribute", param_hint="--app")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        found = import_callable(app_spec)
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), param_hint="--app") from None
    except Exception as exc:  # noqa: BLE001 - the app's own start-up code failed
        raise click.ClickException(f"importing {app_spec} failed: {exc.__class__.__name__}: {exc}") from None
    try:
        return resolve_app(found, app_spec, factory=factory)
    except Uninspectable as exc:
        raise click.ClickException(f"{app_spec}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the app factory's own code failed
        raise click.ClickException(f"building {app_spec} failed: {exc.__class__.__name__}: {exc}") from None


@command.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--app", "app_spec", required=True, help="The app as it is served (with its own wiring), as module:attribute."
)
@click.option(
    "--factory/--no-factory",
    default=None,
    help="Whether module:attribute is a function that builds the app (default: told from how it is called).",
)
@click.option(
    "--as", "signed_in", multiple=True, required=True, metavar='"ID=Header: value"',
    help='An account to probe as, and a header that signs a request in as it (repeatable; give the same '
    'ID again for a second header), e.g. --as "42=Authorization: Bearer eyJ...".',
)
@click.option("--target", "targets", multiple=True, metavar="ID",
              help="An account the probes name as their target (repeatable; default: the other --as accounts).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A value for a path parameter that is not a target, e.g. --param conversation=c-1.")
@database_option
def doctor(
    file: Path, app_spec: str, factory: bool | None, signed_in: tuple[str, ...], targets: tuple[str, ...],
    params: tuple[str, ...], database_url: str,
) -> None:
    """Send probe requests through the app as served, signed in as each --as account, and say
    whom the middleware saw (identity), what the band store holds (bands), what the
    relationship lookups answer, which targets each route read, what came back, and what
    "not found" looks like. Writes nothing: writing probes never reach the app, signals are
    off, decisions are kept in memory. Exits 1 with each problem named.

    The app's own SafeAccountsMiddleware is probed when it has one (FILE should be its
    policy); otherwise the app is wrapped as SafeAccountsMiddleware(app, policy=FILE)."""
    from ..middleware import SafeAccountsMiddleware
    from ..policy_tools.doctor import diagnose, find_middleware

    loaded = _loaded(file)
    accounts = _accounts(signed_in)
    values: dict[str, str] = {}
    for item in params:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--param")
        values[name] = value
    app = _app(app_spec, factory)
    middleware = find_middleware(app)
    served = app
    notes: list[str] = []
    if middleware is None:
        served = middleware = SafeAccountsMiddleware(app, policy=file, database_url=database_url, signals=None)
        notes.append(f"{app_spec} has no SafeAccountsMiddleware: probed as SafeAccountsMiddleware(app, policy={file})")
    elif middleware.policy.version != loaded.version:
        notes.append(
            f"the app's middleware enforces policy {middleware.policy.policy.name!r} version "
            f"{middleware.policy.version}; {file} is version {loaded.version}: the app's is probed"
        )

    async def go() -> Any:
        try:
            return await diagnose(served, middleware, accounts, targets=targets, params=values)
        finally:
            await middleware.close()

    report = run(go)
    report.notes[:0] = notes
    for line in report.lines():
        click.echo(line)
    if report.problems:
        raise SystemExit(1)
    click.echo("no problem found")


def _accounts(signed_in: tuple[str, ...]) -> list[Any]:
    from ..policy_tools.doctor import Account

    headers: dict[str, list[tuple[str, str]]] = {}
    for item in signed_in:
        account, sep, header = item.partition("=")
        name, colon, value = header.partition(":")
        if not sep or not account or not colon or not name.strip():
            raise click.BadParameter(f"{item!r} is not ID=Header: value", param_hint="--as")
        headers.setdefault(account, []).append((name.strip(), value.strip()))
    return [Account(account, tuple(pairs)) for account, pairs in headers.items()]
