"""A hand-built set of records around one two-week period, with every figure worked out by hand.

The period is Monday 2026-01-05 to Sunday 2026-01-18 (UTC). `T0` is its first second;
records just outside it (before `T0`, at `END`) check the boundaries.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from safe_accounts.alerts.tables import alerts, restrictions
from safe_accounts.decisions.table import decision_log
from safe_accounts.moderation.tables import moderation_actions, reports
from safe_accounts.moderation.weeks import day_start

FIRST, LAST = date(2026, 1, 5), date(2026, 1, 18)
T0 = day_start(FIRST)
END = day_start(date(2026, 1, 19))
H, D = 3600, 86_400


def alert(
    id: str, subject: str, signal: str, at: float, status: str = "open", **extra: Any
) -> dict[str, Any]:
    row = {
        "id": id,
        "subject": subject,
        "signal": signal,
        "window_key": f"604800:{int(at)}",
        "counts": {"count": 5},
        "reason": f"{signal} crossed",
        "status": status,
        "created_at": at,
        "policy_version": "v1",
        "decision_id": None,
        "evidence": [
            {
                "kind": "contact_rejected",
                "other": "kid",
                "other_band": "13_15",
                "mutual": 0,
                "at": at - 60,
            },
            {
                "kind": "contact_rejected",
                "other": "young",
                "other_band": "under_13",
                "mutual": None,
                "at": at - 120,
            },
        ],
    }
    row.update(extra)
    return row


def report(
    id: str, reporter: str, reporter_band: str, reported: str, at: float, status: str = "open"
) -> dict[str, Any]:
    return {
        "id": id,
        "at": at,
        "reporter_id": reporter,
        "reporter_band": reporter_band,
        "reported_id": reported,
        "reported_band": "adult",
        "decision_id": None,
        "status": status,
    }


def decision(
    id: str,
    at: float,
    action: str,
    target_band: str | None,
    *,
    mode: str = "enforce",
    outcome: str = "deny",
) -> dict[str, Any]:
    return {
        "id": id,
        "at": at,
        "action": action,
        "rule": "r",
        "policy_version": "v1",
        "mode": mode,
        "outcome": outcome,
        "status": 403,
        "actor_id": "adult-x",
        "actor_band": "adult",
        "target_id": "kid",
        "target_band": target_band,
        "route": "dm",
        "affected": 1,
    }


def restriction(account: str, at: float, by: str) -> dict[str, Any]:
    return {
        "account_id": account,
        "alert_id": None,
        "reason": "test",
        "created_at": at,
        "created_by": by,
    }


def action(
    id: str, item_id: str, kind: str, created: float, name: str, at: float, by: str = "mod-1"
) -> dict[str, Any]:
    return {
        "id": id,
        "item_kind": kind,
        "item_id": item_id,
        "item_created_at": created,
        "account_id": "acct",
        "action": name,
        "by": by,
        "at": at,
        "note": None,
        "effect": None,
    }


ALERTS = [
    alert("a1", "adult-x", "rejected-by-minors", T0 + 3 * H, "resolved"),
    alert("a2", "adult-y", "rejected-by-minors", T0 + 9 * D, "resolved"),
    alert("a3", "adult-z", "blocked-by-minors", T0 + 10 * D),
    alert("a-before", "adult-w", "rejected-by-minors", T0 - 3 * D, "resolved"),
]
REPORTS = [
    report("r1", "kid", "13_15", "adult-x", T0 + 1 * H, "resolved"),
    report("r2", "young", "under_13", "adult-x", T0 + 2 * D),
    report("r3", "parent", "adult", "adult-y", T0 + 8 * D),
    report("r-before", "kid", "13_15", "adult-w", T0 - 1),
    report("r-after", "kid", "13_15", "adult-w", END),
]
DECISIONS = [
    decision("d1", T0 + 1 * H, "direct_message", "13_15"),
    decision("d2", T0 + 8 * D, "direct_message", "13_15"),
    decision("d3", T0 + 2 * D, "contact_request", "under_13"),
    decision("d4", T0 + 2 * D, "direct_message", "13_15", mode="monitor"),
    decision("d5", T0 + 2 * D, "profile_view", "13_15", outcome="hide"),
    decision("d6", T0 - 1, "direct_message", "13_15"),
    decision("d7", T0 + 4 * D, "direct_message", None),
    decision("d-after", END + 1, "direct_message", "16_17"),
]
RESTRICTIONS = [
    restriction("adult-x", T0 + 3 * H, "system"),
    restriction("adult-y", T0 + 9 * D, "mod-1"),
    restriction("adult-x", T0 + 5 * D, "mod-2"),
    restriction("adult-w", T0 - 3 * D, "system"),
]
ACTIONS = [
    action("m1", "a1", "alert", T0 + 3 * H, "ack", T0 + 3 * H + 600),
    action("m2", "a1", "alert", T0 + 3 * H, "restrict", T0 + 3 * H + 3600),
    action("m3", "r1", "report", T0 + 1 * H, "dismiss", T0 + 1 * H + 1800, by="mod-2"),
    action("m4", "r2", "report", T0 + 2 * D, "note", T0 + 2 * D + 7200),
    action("m5", "a2", "alert", T0 + 9 * D, "warn", T0 + 9 * D + 300),
    action("m6", "a-before", "alert", T0 - 3 * D, "ack", T0 - 3 * D + 100),
    action("m7", "a-before", "alert", T0 - 3 * D, "dismiss", T0 + 1 * D),
    action("m8", "a3", "alert", T0 + 10 * D, "refer_law_enforcement", END + 10),
]

# What the report must say, worked out by hand from the rows above.
EXPECTED = {
    "reports_received": 3,
    "reports_by_reporter_band": {"13_15": 1, "adult": 1, "under_13": 1},
    "alerts_by_signal": {"blocked-by-minors": 1, "rejected-by-minors": 2},
    "contacts_blocked": {
        ("contact_request", "under_13"): 1,
        ("direct_message", "13_15"): 2,
        ("direct_message", "unknown"): 1,
    },
    "accounts_restricted": (2, 1, 2),  # distinct accounts: all, by the system, by moderators
    # first responses in the period: a1 600, r1 1800, r2 7200, a2 300 (a-before's was earlier)
    "first_response": (4, 1200.0, 5580.0),
    # resolutions in the period: a1 3600, r1 1800, a2 300, a-before 4 days (a3's is after the end)
    "resolution": (4, 2700.0, 243_000.0),
    "actions_by_type": {"ack": 1, "dismiss": 2, "note": 1, "restrict": 1, "warn": 1},
    "open": (1, 3),  # a3; r-before, r2, r3 (r-after arrives at the end, so after the period)
    "weeks": [
        # (monday, reports, alerts, blocked, actions, median first response)
        ("2026-01-05", 2, 1, 3, 5, 1800.0),
        ("2026-01-12", 1, 2, 1, 1, 300.0),
    ],
}


async def build(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(alerts.insert(), ALERTS)
        await conn.execute(reports.insert(), REPORTS)
        await conn.execute(decision_log.insert(), DECISIONS)
        await conn.execute(restrictions.insert(), RESTRICTIONS)
        await conn.execute(moderation_actions.insert(), ACTIONS)


def allowed(id: str, at: float, action: str, sample_rate: float | None = None) -> dict[str, Any]:
    """A row of a `then: allow` rule; with `sample_rate`, one the rule sampled."""
    return {**decision(id, at, action, "adult", outcome="allow"), "status": None, "sample_rate": sample_rate}


# Rows of allow rules: profile views sampled at a tenth (three rows, thirty views) beside one
# logged whole; search pages sampled at 0.3 (three rows standing for 10.000...02 pages, 10 by
# the week's rounding) in the second week; one contact request recorded whole, and sampled
# rows on both sides of the period.
ALLOWED = [
    *(allowed(f"p{n}", T0 + 2 * D + n, "profile_view", 0.1) for n in range(3)),
    allowed("p-whole", T0 + 3 * D, "profile_view"),
    *(allowed(f"s{n}", T0 + 9 * D + n, "discovery", 0.3) for n in range(3)),
    allowed("c1", T0 + 4 * D, "contact_request"),
    allowed("p-before", T0 - 1, "profile_view", 0.1),
    allowed("p-after", END + 2, "profile_view", 0.1),
]
EXPECTED_ALLOWED = {
    "total": 42,
    "estimated": True,
    "sampled_rows": 6,
    "by_kind": [
        {"kind": "contact_request", "count": 1, "estimated": False, "sampled_rows": 0},
        {"kind": "discovery", "count": 10, "estimated": True, "sampled_rows": 3},
        {"kind": "profile_view", "count": 31, "estimated": True, "sampled_rows": 3},
    ],
}


async def add_allowed(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(decision_log.insert(), ALLOWED)
