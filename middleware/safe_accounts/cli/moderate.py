"""Moderation from the command line: the same actions, records and effects as the moderation
app.

- `safe-accounts alerts ack ID --by WHO`, `alerts resolve ID --action ACTION --by WHO`: on
  one item (an alert's or a child-endangerment report's id);
- `safe-accounts moderate cases | show | claim | release | act | hold | unhold | export |
  verify`: on cases, the open items about one account (moderation/cases.py).

With a Redis URL a restriction reaches every running worker at once; without one, workers
pick it up on their next refresh (10 s by default). With `--policy`, the policy's due times,
display lookup and host webhook apply; the host's in-process callback lives in its app, so
a suspension from here reaches the host only through that webhook.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from ..alerts.restrictions import Restrictions
from ..config import channel_prefix
from ..config import redis_prefix as resolve_redis_prefix
from ..config import redis_url as resolve_redis_url
from ..moderation.actions import Moderation
from ..moderation.cases import CaseDetail, CaseSummary, accounts_on, case_detail, open_cases
from ..moderation.casework import Casework
from ..moderation.display import Account, AccountNames
from ..moderation.due import DueTimes
from ..moderation.effects import Effects
from ..moderation.evidence import KEY_ENV, ExportKey, InvalidBundle, digest_of, export_case, verify
from ..moderation.hooks import HostHooks
from ..moderation.model import RESOLVING, ActionRecord, ModerationAction
from ..policy.loader import load_policy
from ..policy.model import PolicyFile
from ._common import database_option, redis_option, redis_prefix_option, run
from ._settings import from_dotenv
from .report import checked_engine

_RESOLVING = sorted(a.value for a in RESOLVING)


@asynccontextmanager
async def _restrictions(
    engine: AsyncEngine, redis_url: str | None, redis_prefix: str | None
) -> AsyncIterator[Restrictions]:
    url = resolve_redis_url(redis_url)
    channels = channel_prefix(resolve_redis_prefix(redis_prefix), url)
    restrictions = Restrictions(engine, redis_url=url, prefix=channels)
    await restrictions.start()
    try:
        yield restrictions
    finally:
        await restrictions.close()


def _take(
    database_url: str | None,
    redis_url: str | None,
    redis_prefix: str | None,
    item_id: str,
    action: ModerationAction,
    by: str,
    note: str,
) -> ActionRecord:
    async def go() -> ActionRecord:
        async with (
            checked_engine(database_url) as engine,
            _restrictions(engine, redis_url, redis_prefix) as restrictions,
        ):
            return await Moderation(engine, restrictions=restrictions).take(
                item_id, action, by=by, note=note
            )

    return run(go)


def _show(record: ActionRecord, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(record.to_json()))
        return
    when = datetime.fromtimestamp(record.at, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    effect = f" ({record.effect})" if record.effect else ""
    click.echo(
        f"{record.action.value} on {record.item_kind.value} {record.item_id} "
        f"(account {record.account_id or '-'}) by {record.by} at {when}{effect}"
    )


_by = click.option(
    "--by", required=True, metavar="WHO", help="The moderator taking the action (recorded)."
)
_note = click.option(
    "--note", default="", help="Kept with the action (never shown to the account)."
)
_json = click.option("--json", "as_json", is_flag=True, help="The recorded action as JSON.")


@click.command("ack")
@database_option
@redis_option
@redis_prefix_option
@click.argument("item_id")
@_by
@_note
@_json
def ack(
    database_url: str | None,
    redis_url: str | None,
    redis_prefix: str | None,
    item_id: str,
    by: str,
    note: str,
    as_json: bool,
) -> None:
    """Acknowledge an alert or report: the first response, without a decision yet."""
    _show(
        _take(database_url, redis_url, redis_prefix, item_id, ModerationAction.ACK, by, note), as_json
    )


@click.command("resolve")
@database_option
@redis_option
@redis_prefix_option
@click.argument("item_id")
@click.option(
    "--action", "action", required=True, type=click.Choice(_RESOLVING), help="The decision."
)
@_by
@_note
@_json
def resolve(
    database_url: str | None,
    redis_url: str | None,
    redis_prefix: str | None,
    item_id: str,
    action: str,
    by: str,
    note: str,
    as_json: bool,
) -> None:
    """Decide on an alert or report: dismiss, warn, restrict, suspend, refer to the police."""
    _show(
        _take(database_url, redis_url, redis_prefix, item_id, ModerationAction(action), by, note),
        as_json,
    )


# --- `safe-accounts moderate ...`: cases -------------------------------------------------

_policy = click.option(
    "--policy",
    "policy_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The app's policy file: its due times, display lookup and host webhook apply.",
)
_case_json = click.option("--json", "as_json", is_flag=True, help="As JSON, for scripts.")


def _export_key(name: str) -> ExportKey:
    """The key in the environment variable `name`, or in that line of `.env` here (where
    `make demo` keeps the key its moderation pages sign with)."""
    value = os.environ.get(name) or from_dotenv(name)
    return ExportKey.from_env(name, {name: value} if value else {})


def _loaded(path: Path | None) -> PolicyFile | None:
    return None if path is None else load_policy(path).policy


def _clock_when(at: float | None) -> str:
    return "-" if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@asynccontextmanager
async def _casework(
    database_url: str | None,
    policy: PolicyFile | None,
    redis_url: str | None = None,
    redis_prefix: str | None = None,
) -> AsyncIterator[tuple[AsyncEngine, Casework]]:
    async with (
        checked_engine(database_url) as engine,
        _restrictions(engine, redis_url, redis_prefix) as restrictions,
    ):
        effects = Effects(engine, restrictions=restrictions, hooks=HostHooks.of(policy))
        yield engine, Casework(engine, effects=effects, due=DueTimes.of(policy))


@click.group("moderate")
def command() -> None:
    """Cases: the open alerts and reports about one account, decided together."""


@command.command("cases")
@database_option
@_policy
@_case_json
def cases_command(database_url: str | None, policy_path: Path | None, as_json: bool) -> None:
    """Open cases, most urgent first (overdue first)."""
    policy = _loaded(policy_path)

    async def go() -> tuple[list[CaseSummary], dict[str, Account], float]:
        async with _casework(database_url, policy) as (engine, work):
            await work.file()
            now = time.time()
            found = await open_cases(engine, now=now)
            names = await AccountNames.of_policy(policy, engine).of([c.account_id for c in found])
            return found, dict(names), now

    found, names, now = run(go)
    if as_json:
        click.echo(json.dumps([{**c.to_json(now), "account": names[c.account_id].to_json()} for c in found], indent=2))
        return
    if not found:
        click.echo("no open cases")
        return
    for case in found:
        due = "no due time" if case.due_at is None else (
            f"OVERDUE since {_clock_when(case.due_at)}" if case.overdue(now) else f"due {_clock_when(case.due_at)}"
        )
        claimed = f"claimed by {case.claimed_by}" if case.claimed_by else "unclaimed"
        click.echo(
            f"{case.id}  {names[case.account_id].label}  {case.alerts} alert(s), {case.reports} report(s)  "
            f"{due}  {claimed}" + ("  [legal hold]" if case.held else "")
        )


@command.command("show")
@database_option
@_policy
@click.argument("case_id")
@_case_json
def show_command(database_url: str | None, policy_path: Path | None, case_id: str, as_json: bool) -> None:
    """One case: its account, items (with reporters' words), actions and events."""
    policy = _loaded(policy_path)

    async def go() -> tuple[CaseDetail, float]:
        async with _casework(database_url, policy) as (engine, work):
            await work.file()
            now = time.time()
            detail = await case_detail(engine, case_id, now=now)
            names = await AccountNames.of_policy(policy, engine).of(accounts_on(detail))
            return replace(detail, names=dict(names)), now

    detail, now = run(go)
    if as_json:
        click.echo(json.dumps(detail.to_json(now), indent=2))
        return
    s = detail.summary
    click.echo(f"case       {detail.id} ({'open' if detail.open else 'decided: ' + str(detail.outcome)})")
    click.echo(f"account    {detail.name(detail.account_id)}" + ("  [restricted]" if s.restricted else ""))
    click.echo(f"opened     {_clock_when(s.opened_at)}")
    click.echo(f"due        {_clock_when(s.due_at)}" + ("  OVERDUE" if s.overdue(now) else ""))
    click.echo(f"claimed    {s.claimed_by or '-'}")
    if detail.held_at is not None:
        click.echo(f"legal hold since {_clock_when(detail.held_at)} by {detail.held_by}: {detail.hold_note}")
    for item in detail.items:
        when = _clock_when(item.created_at)
        click.echo(f"  {item.kind.value:<6} {item.id}  {item.title}  {item.status.value}  {when}")
        if item.kind.value == "report":
            click.echo(f"         by {detail.name(item.row.get('reporter_id'))} ({item.row.get('reporter_band')})")
            if item.row.get("text"):
                click.echo(f"         \"{item.row['text']}\"")
    for action in detail.actions:
        click.echo(f"  {_clock_when(action.at)}  {action.action.value} by {action.by}  {action.effect or ''}")


_case_by = click.option("--by", required=True, metavar="WHO", help="The moderator (recorded).")


@command.command("claim")
@database_option
@click.argument("case_id")
@_case_by
@click.option("--take-over", is_flag=True, help="Take the case from the moderator who has it.")
def claim_command(database_url: str | None, case_id: str, by: str, take_over: bool) -> None:
    """Work on a case: nobody else acts on it until it is released or taken over."""

    async def go() -> None:
        async with _casework(database_url, None) as (_, work):
            await work.claim(case_id, by=by, take_over=take_over)

    run(go)
    click.echo(f"case {case_id} claimed by {by}")


@command.command("release")
@database_option
@click.argument("case_id")
@_case_by
def release_command(database_url: str | None, case_id: str, by: str) -> None:
    """Give a claimed case back to the queue."""

    async def go() -> None:
        async with _casework(database_url, None) as (_, work):
            await work.unclaim(case_id, by=by)

    run(go)
    click.echo(f"case {case_id} released")


@command.command("act")
@database_option
@redis_option
@redis_prefix_option
@_policy
@click.argument("case_id")
@click.option(
    "--action", "action", required=True, type=click.Choice([a.value for a in ModerationAction]),
    help="What to do: a decision settles every item of the case.",
)
@_case_by
@_note
@_json
def act_command(
    database_url: str | None,
    redis_url: str | None,
    redis_prefix: str | None,
    policy_path: Path | None,
    case_id: str,
    action: str,
    by: str,
    note: str,
    as_json: bool,
) -> None:
    """Take an action on a case (with --policy, the host's webhook is told what it must do)."""
    policy = _loaded(policy_path)

    async def go() -> ActionRecord:
        async with _casework(database_url, policy, redis_url, redis_prefix) as (_, work):
            return await work.act(case_id, action, by=by, note=note)

    record = run(go)
    if as_json:
        click.echo(json.dumps(record.to_json()))
        return
    effect = f" ({record.effect})" if record.effect else ""
    click.echo(f"{record.action.value} on case {case_id} (account {record.account_id}) by {record.by}{effect}")


@command.command("hold")
@database_option
@click.argument("case_id")
@_case_by
@click.option("--note", required=True, help="Why: e.g. the authority's reference.")
def hold_command(database_url: str | None, case_id: str, by: str, note: str) -> None:
    """Place a legal hold: `purge` keeps the case's evidence whatever its age."""

    async def go() -> None:
        async with _casework(database_url, None) as (_, work):
            await work.hold(case_id, by=by, note=note)

    run(go)
    click.echo(f"case {case_id} is under legal hold")


@command.command("unhold")
@database_option
@click.argument("case_id")
@_case_by
@_note
def unhold_command(database_url: str | None, case_id: str, by: str, note: str) -> None:
    """Release a legal hold: the case's evidence follows retention again."""

    async def go() -> None:
        async with _casework(database_url, None) as (_, work):
            await work.release_hold(case_id, by=by, note=note)

    run(go)
    click.echo(f"case {case_id}: legal hold released")


@command.command("export")
@database_option
@_policy
@click.argument("case_id")
@_case_by
@click.option(
    "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
    help="Write the bundle here (default: standard output).",
)
@click.option(
    "--key-env", default=KEY_ENV, show_default=True, metavar="NAME",
    help="The environment variable holding the signing key (32 bytes or more).",
)
def export_command(
    database_url: str | None, policy_path: Path | None, case_id: str, by: str, output: Path | None, key_env: str
) -> None:
    """One case as a signed JSON evidence bundle, for a referral to the authorities."""
    key = _export_key(key_env)  # a missing key stops here, before any connection
    policy = _loaded(policy_path)

    async def go() -> dict[str, Any]:
        async with _casework(database_url, policy) as (engine, work):
            bundle = await export_case(
                engine, case_id, key=key, by=by, names=AccountNames.of_policy(policy, engine)
            )
            await work.exported(case_id, by=by, digest=digest_of(bundle))
            return bundle

    bundle = run(go)
    text = json.dumps(bundle, indent=2, ensure_ascii=False)
    if output is None:
        click.echo(text)
        return
    output.write_text(text + "\n", encoding="utf-8")
    click.echo(f"wrote case {case_id}'s evidence to {output} ({digest_of(bundle)})", err=True)


@command.command("verify")
@click.argument("bundle_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--key-env", default=KEY_ENV, show_default=True, metavar="NAME",
    help="The environment variable holding the key it was signed with.",
)
def verify_command(bundle_file: Path, key_env: str) -> None:
    """Check an evidence bundle: every record's hash, the digest and the signature."""
    try:
        bundle = json.loads(bundle_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidBundle(f"{bundle_file} is not JSON: {exc}") from None
    key = _export_key(key_env)
    problems = verify(bundle, key)
    if problems:
        for problem in problems:
            click.echo(f"{bundle_file}: {problem}", err=True)
        raise click.exceptions.Exit(1)
    click.echo(f"{bundle_file}: intact, signed with key {key.key_id} ({digest_of(bundle)})")
