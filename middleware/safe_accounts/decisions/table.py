"""The decision log: every deny, hide, filter and redact (and would-be one in monitor mode).

Never message text: ids, bands, the rule and the outcome only. An `allow` rule may log only
a share of its decisions (`log: {sample: R}`, `decisions/sampling.py`): its rows say so.

A request about one account (a DM, a profile view, a contact request) is one row per
account it reached. A list the app answered with (search, suggestions) is one row per rule
per request, however long the list: `affected` counts the accounts the rule applied to and
`targets` names each of them with its band, so the log grows with requests, not page sizes.
"""

from sqlalchemy import JSON, Column, Float, Index, Integer, String, Table

from ..db.metadata import ACCOUNT_ID_LENGTH, metadata

decision_log = Table(
    "safe_accounts_decisions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("at", Float, nullable=False),
    Column("action", String(32), nullable=False),
    Column("rule", String(128), nullable=False),
    Column("policy_version", String(64), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("status", Integer, nullable=True),
    Column("actor_id", String(ACCOUNT_ID_LENGTH), nullable=True),
    Column("actor_band", String(16), nullable=False),
    Column("target_id", String(ACCOUNT_ID_LENGTH), nullable=True),
    Column("target_band", String(16), nullable=True),
    Column("route", String(255), nullable=False),
    # How many list items a filter removed (discovery); 1 otherwise.
    Column("affected", Integer, nullable=False, default=1),
    # A list's row: every account the rule applied to, as [id, band] pairs in the order
    # listed (`target_id` and `target_band` are the first of them). NULL for a row about
    # one account. A JSON column rather than a child table: the row stays one INSERT in the
    # writer's batch, and a purge, a legal hold's copy and an evidence bundle carry it as
    # they carry every other column.
    Column("targets", JSON, nullable=True),
    # On a row of an `allow` rule that samples its log (`log: {sample: R}`): R, the share of
    # such decisions the log kept, so a count of rows scales up to an estimate (each row
    # stands for 1/R decisions). NULL: every such decision is logged.
    Column("sample_rate", Float, nullable=True),
    Index("ix_safe_accounts_decisions_at", "at"),
    Index("ix_safe_accounts_decisions_actor_id_at", "actor_id", "at"),
)
