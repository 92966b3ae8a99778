"""`safe-accounts policy check FILE... | schema`: policy files, checked before they are deployed."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import PolicyError
from ..policy import load_policy, policy_json_schema


@click.group(name="policy")
def command() -> None:
    """Policy files: check them, print their JSON Schema."""


@command.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def check(files: tuple[Path, ...]) -> None:
    """Load each FILE (following `extends`) and list every problem as file:line: reason.

    Exits 1 if any file has a problem, so it can guard a deployment or a CI job.
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
        signals = len(policy.signals.counts) + len(policy.signals.rates)
        click.echo(
            f"{file}: ok ({_count(len(policy.routes), 'route')}, {_count(len(policy.rules), 'rule')}, "
            f"{_count(signals, 'signal')}, version {loaded.version})"
        )
    if failed:
        # SystemExit, not click's Exit: `run_cli` runs click with standalone_mode=False,
        # where an Exit's code is returned and dropped.
        raise SystemExit(1)


@command.command()
def schema() -> None:
    """Print the policy file's JSON Schema (docs/policy.schema.json is this output)."""
    click.echo(json.dumps(policy_json_schema(), indent=2, ensure_ascii=False))


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
