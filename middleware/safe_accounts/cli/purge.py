"""`safe-accounts purge --older-than DAYS`: retention, keeping what the reports need.

Decision-log rows older than DAYS are folded into weekly totals and deleted; resolved
alerts lose their evidence and resolved reports their account ids. Whole weeks only (the
cut-off is rounded down to a Monday). See moderation/retention.py.
"""

from __future__ import annotations

import json

import click

from ..moderation.retention import PURGE_STEPS, PurgeResult, purge
from ..moderation.weeks import as_date
from ._common import database_option, run
from ._progress import progress
from .report import checked_engine


@click.command("purge")
@database_option
@click.option(
    "--older-than",
    "days",
    required=True,
    type=int,
    metavar="DAYS",
    help="Remove what is older than this many days (0 or more).",
)
@click.option("--json", "as_json", is_flag=True, help="The outcome as JSON, for scripts.")
def command(database_url: str | None, days: int, as_json: bool) -> None:
    """Remove decision-log rows and evidence past retention; report figures are kept."""
    if days < 0:
        raise click.BadParameter(f"must be 0 or more (got {days})", param_hint="--older-than")

    async def go() -> PurgeResult:
        async with checked_engine(database_url) as engine:
            return await purge(engine, older_than_days=days, on_step=step)

    with progress("purging", len(PURGE_STEPS)) as bar:
        seen: list[str] = []

        def step(name: str) -> None:
            if seen:
                bar.advance()
            seen.append(name)
            bar.step(name)

        done = run(go)
        bar.advance()
    before = as_date(done.folded_before).isoformat()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "purged_before": before,
                    "decisions_deleted": done.decisions_deleted,
                    "weeks_folded": done.weeks_folded,
                    "reports_erased": done.reports_erased,
                    "evidence_cleared": done.evidence_cleared,
                    "decisions_held": done.decisions_held,
                }
            )
        )
        return
    click.echo(
        f"purged before {before}: {done.decisions_deleted} decision-log rows deleted "
        f"(folded into {done.weeks_folded} weekly totals), {done.reports_erased} resolved reports' "
        f"account ids and words erased, {done.evidence_cleared} resolved alerts' evidence cleared"
        + (
            f"; {done.decisions_held} decision-log rows kept for cases under legal hold"
            if done.decisions_held
            else ""
        )
    )
