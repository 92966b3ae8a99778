"""The outcome of a run: what the middleware did (decision log, alerts) measured against
the ground truth (who the groomers are, whom they reached and when)."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .driver import Run
from .parameters import Parameters, Tactic
from .population import ORDINARY_ADULTS, Role
from .stack import read_logs

HOUR = 3600.0


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (no interpolation): a value that occurred."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _summary(values: Sequence[float], digits: int = 1) -> dict[str, Any]:
    if not values:
        return {"n": 0, "median": None, "p90": None}
    p90 = percentile(values, 0.9)
    return {
        "n": len(values),
        "median": round(float(statistics.median(values)), digits),
        "p90": None if p90 is None else round(float(p90), digits),
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The run's figures, as JSON-ready data (`data`; the same for a seed, to the byte).
    `retried` counts requests retried after a 503 on a busy machine: not part of the figures."""

    data: dict[str, Any]
    retried: int = 0

    def to_json(self) -> dict[str, Any]:
        return self.data


async def measure(run: Run, params: Parameters) -> Outcome:
    protections, raised = await read_logs(run.database_url, run.signals)
    people = run.population.by_id
    journal = run.journal
    start = run.start

    first_alert: dict[int, float] = {}
    signals_of: dict[int, set[str]] = {}
    alerts_of: Counter[int] = Counter()
    crossings_of: Counter[int] = Counter()
    by_signal: Counter[str] = Counter()
    # Each signal's share of the alerts: those it raised (it crossed first), on groomers'
    # accounts and on everyone else's; and the open alerts its later crossings joined.
    signal_hits: dict[str, Counter[str]] = {}
    signal_joined: dict[str, Counter[str]] = {}
    for alert in raised:
        by_signal[alert.signal] += 1
        if alert.subject.isdigit() and int(alert.subject) in people:
            account, created = int(alert.subject), alert.created_at
            first_alert[account] = min(first_alert.get(account, created), created)
            signals_of.setdefault(account, set()).update((alert.signal, *alert.joined_by))
            alerts_of[account] += 1
            crossings_of[account] += alert.crossings
            truth = "groomer" if people[account].role is Role.GROOMER else "benign"
            signal_hits.setdefault(alert.signal, Counter())[truth] += 1
            for other in alert.joined_by:
                signal_joined.setdefault(other, Counter())[truth] += 1

    groomer_accounts = [p for p in run.population.people if p.role is Role.GROOMER]
    contacts_by: dict[int, list[tuple[float, int]]] = {}
    for c in journal.contacts:
        contacts_by.setdefault(c.actor, []).append((start + c.at, c.child))
    active = [g for g in groomer_accounts if g.id in contacts_by]
    alerted = set(first_alert)
    true_positives = [g for g in groomer_accounts if g.id in alerted]
    reached_by: dict[int, list[float]] = {}
    for at, groomer, _child in journal.reached:
        reached_by.setdefault(groomer, []).append(start + at)
    hours_to_alert: list[float] = []
    children_before: list[float] = []
    children_unalerted: list[float] = []
    reached_before: list[float] = []  # per active account: children who accepted it before its alert
    reached_by_tactic: Counter[str] = Counter()
    for g in active:
        seen = sorted(contacts_by[g.id])
        until = first_alert.get(g.id, math.inf)
        reached_before.append(sum(1 for at in reached_by.get(g.id, ()) if at <= until))
        reached_by_tactic[_tactic(g.tactic) or ""] += int(reached_before[-1])
        if g.id in first_alert:
            hours_to_alert.append((first_alert[g.id] - seen[0][0]) / HOUR)
            children_before.append(len({child for at, child in seen if at <= first_alert[g.id]}))
        else:
            children_unalerted.append(len({child for _, child in seen}))

    recall_by_tactic: dict[str, Any] = {}
    for tactic in Tactic:
        mine = [g for g in active if g.tactic is tactic]
        people_behind = {g.groomer for g in mine}
        caught_people = {g.groomer for g in mine if g.id in alerted}
        recall_by_tactic[tactic.value] = {
            "accounts": len(mine),
            "alerted": sum(1 for g in mine if g.id in alerted),
            "children_reached_before_alert": reached_by_tactic[tactic.value],
            "recall": _ratio(sum(1 for g in mine if g.id in alerted), len(mine)),
            "groomers": len(people_behind),
            "groomers_with_an_account_alerted": len(caught_people),
        }

    ordinary = [p for p in run.population.people if p.role in ORDINARY_ADULTS]
    false_adults = [p for p in ordinary if p.id in alerted]
    false_children = [p for p in run.population.people if p.role is Role.CHILD and p.id in alerted]
    alerted_known = [a for a in alerted if a in people]
    benign_roles = sorted({p.role for p in ordinary})
    per_role: dict[str, dict[str, float | None]] = {
        r.value: {
            "alerted": sum(1 for p in false_adults if p.role is r),
            "of": sum(1 for p in ordinary if p.role is r),
        }
        for r in benign_roles
    }
    for figures in per_role.values():
        figures["per_1000"] = _per_1000(int(figures["alerted"] or 0), int(figures["of"] or 0))
    groomer_alerts = [alerts_of[g.id] for g in true_positives]

    statuses: Counter[str] = Counter()
    by_task: dict[str, dict[str, int]] = {}
    for (task, status), n in sorted(journal.requests.items()):
        statuses[str(status)] += n
        by_task.setdefault(task, {})[str(status)] = n
    data = {
        "parameters": params.to_json(),
        "policy": {"name": run.policy_name, "version": run.policy_version},
        "simulated": {"start": _iso(start), "days": params.days},
        "population": {
            "accounts": len(run.population.people),
            "by_role": run.population.counts(),
            "friendships": len(run.population.friendships),
            "groomers": {
                "people": params.groomers,
                "accounts": len(groomer_accounts),
                "by_tactic": {
                    t.value: sum(1 for g in groomer_accounts if g.tactic is t) for t in Tactic
                },
            },
        },
        "traffic": {
            "requests": sum(statuses.values()),
            "by_status": dict(sorted(statuses.items())),
            "by_task": by_task,
        },
        "protections": protections,
        "alerts": {
            "total": len(raised),
            "by_signal": dict(sorted(by_signal.items())),
            "accounts_alerted": len(alerted_known),
            "per_alerted_account": _ratio(sum(alerts_of.values()), len(alerted_known)),
            "per_alerted_groomer_account": _summary(groomer_alerts),
            # Crossings per alerted account, the first included: what the account's alerts
            # would have been had later crossings not joined the open alert.
            "crossings_per_alerted_account": _ratio(
                sum(crossings_of.values()), len(alerted_known)
            ),
            # Per signal: the alerts it raised (it crossed first) on groomers' accounts and
            # on benign ones, and the open alerts its later crossings joined.
            "contribution": {
                signal: {
                    "groomer": signal_hits.get(signal, Counter())["groomer"],
                    "benign": signal_hits.get(signal, Counter())["benign"],
                    "joined_groomer": signal_joined.get(signal, Counter())["groomer"],
                    "joined_benign": signal_joined.get(signal, Counter())["benign"],
                }
                for signal in sorted({*signal_hits, *signal_joined})
            },
            # Who was alerted, as the ground truth knows them: the run's full record.
            "accounts": [
                {
                    "account": account,
                    "role": people[account].role.value,
                    "tactic": _tactic(people[account].tactic),
                    "first_alert_hours": round((first_alert[account] - start) / HOUR, 2),
                    "signals": sorted(signals_of[account]),
                }
                for account in sorted(alerted_known)
            ],
        },
        "detection": {
            "groomer_accounts_active": len(active),
            "groomer_accounts_alerted": len(true_positives),
            "precision": _ratio(len(true_positives), len(alerted_known)),
            "recall": _ratio(sum(1 for g in active if g.id in alerted), len(active)),
            "by_tactic": recall_by_tactic,
            "hours_from_first_contact_to_alert": _summary(hours_to_alert),
            "children_contacted_before_alert": _summary(children_before),
            "children_contacted_by_groomers_never_alerted": _summary(children_unalerted),
            # Children who accepted a groomer account before its alert (all of them, for an
            # account never alerted): the harm the alert came too late to prevent.
            "children_reached_before_alert": {
                "total": int(sum(reached_before)),
                **_summary(reached_before),
            },
        },
        "false_alerts": {
            "ordinary_adults": len(false_adults),
            "ordinary_adults_total": len(ordinary),
            "rate": _ratio(len(false_adults), len(ordinary)),
            "per_1000": _per_1000(len(false_adults), len(ordinary)),
            "by_role": {
                r.value: sum(1 for p in false_adults if p.role is r)
                for r in sorted(ORDINARY_ADULTS)
            },
            "per_role": per_role,
            "children": len(false_children),
        },
        # Friend requests refused for another reason than a restriction (the cap on
        # requests to unconnected children), by the sender's role, resent ones included.
        "friction": {"requests_refused_by_role": dict(sorted(journal.requests_refused.items()))},
        "harm": {
            "groomer_requests_accepted_by_children": journal.groomer_requests_accepted,
            "groomer_messages_delivered_to_children": journal.groomer_messages_delivered,
            "children_messaged_by_a_groomer": len(
                {child for _, child in journal.children_reached_by_groomers}
            ),
        },
    }
    return Outcome(data, retried=journal.retried)


def _per_1000(part: int, whole: int) -> float | None:
    return round(1000 * part / whole, 2) if whole else None


def _tactic(tactic: Tactic | None) -> str | None:
    return None if tactic is None else tactic.value


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()
