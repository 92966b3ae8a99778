"""`safe-accounts`: the command line. One module per command group."""

from __future__ import annotations

import click

from ._common import run_cli
from .db import db


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="safe-accounts")
def cli() -> None:
    """Safe Accounts: protections for under-18 accounts, in front of your ASGI app."""


cli.add_command(db)

# Command groups that arrive with later layers register themselves here.
for _module in (
    "bands", "policy", "alerts", "reports", "restrictions", "report", "moderate", "simulate", "purge"
):
    try:
        _group = __import__(f"{__name__}.{_module}", fromlist=["command"]).command
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{_module}":
            raise
    else:
        cli.add_command(_group)


def main() -> None:
    run_cli(cli)
