"""The outcome as a person reads it: one plain-text table."""

from __future__ import annotations

from typing import Any

from .outcome import Outcome

LABEL = 35  # width of the label column


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _spread(summary: dict[str, Any], unit: str = "") -> str:
    if not summary["n"]:
        return "n/a (none)"
    return f"median {summary['median']}{unit}, p90 {summary['p90']}{unit} (n={summary['n']})"


def _row(label: str, value: str) -> str:
    return f"  {label:<{LABEL}}{value}"


def _counts(counts: dict[str, int], fmt: str = "{n} {k}") -> str:
    return ", ".join(fmt.format(n=n, k=k) for k, n in counts.items() if n)


def _header(d: dict[str, Any]) -> list[str]:
    p, pop = d["parameters"], d["population"]
    groomers = pop["groomers"]
    title = f"Safe Accounts simulation: seed {p['seed']}, {p['days']} days"
    title += f" from {d['simulated']['start'][:10]}, policy {d['policy']['name']} ({p['policy']})"
    if p.get("vouched"):
        title += ", teachers, coaches and youth workers vouched for"
    traffic = d["traffic"]
    return [
        title,
        _row("population", f"{pop['accounts']} accounts: {_counts(pop['by_role'])}"),
        _row("friendships at the start", str(pop["friendships"])),
        _row(
            "groomers",
            f"{groomers['people']} people on {groomers['accounts']} accounts"
            f" ({_counts(groomers['by_tactic']) or 'none'})",
        ),
        _row(
            "requests",
            f"{traffic['requests']} ({_counts(traffic['by_status'], '{n}x {k}')})",
        ),
    ]


def _protections(d: dict[str, Any]) -> list[str]:
    columns = f"  {'rule':<42} {'action':<16} {'outcome':<8} {'mode':<8}"
    lines = ["Protections fired (decision log)", f"{columns} {'decisions':>9} {'affected':>9}"]
    for r in d["protections"]:
        row = f"  {r['rule']:<42} {r['action']:<16} {r['outcome']:<8} {r['mode']:<8}"
        lines.append(f"{row} {r['decisions']:>9} {r['affected']:>9}")
    if not d["protections"]:
        lines.append("  (none)")
    return lines


def _alerts(d: dict[str, Any]) -> list[str]:
    alerts = d["alerts"]
    lines = [f"Alerts raised: {alerts['total']} on {alerts['accounts_alerted']} accounts"]
    lines.append(
        f"  {'signal':<42} {'alerts':>6} {'groomer':>8} {'benign':>7}"
        f" {'joined: groomer':>16} {'benign':>7}"
    )
    for signal, hits in alerts["contribution"].items():
        n = alerts["by_signal"].get(signal, 0)
        lines.append(
            f"  {signal:<42} {n:>6} {hits['groomer']:>8} {hits['benign']:>7}"
            f" {hits['joined_groomer']:>16} {hits['joined_benign']:>7}"
        )
    lines.append(
        "  (alerts: raised by the signal, the first to cross; joined: open alerts its later"
        " crossings were added to)"
    )
    per = alerts["per_alerted_account"]
    lines.append(_row("alerts per alerted account", "n/a" if per is None else f"{per:.2f}"))
    crossings = alerts["crossings_per_alerted_account"]
    lines.append(
        _row("crossings per alerted account", "n/a" if crossings is None else f"{crossings:.2f}")
    )
    return lines


def _detection(d: dict[str, Any]) -> list[str]:
    det, fa = d["detection"], d["false_alerts"]
    recall = f"{_pct(det['recall'])} ({det['groomer_accounts_alerted']} of"
    recall += f" {det['groomer_accounts_active']} active groomer accounts)"
    lines = [
        "Detection (an alerted account is a true positive if it is a groomer's)",
        _row("precision", _pct(det["precision"])),
        _row("recall", recall),
    ]
    for tactic, t in det["by_tactic"].items():
        if t["accounts"]:
            detail = f"{_pct(t['recall'])} ({t['alerted']} of {t['accounts']} accounts;"
            detail += f" {t['groomers_with_an_account_alerted']} of {t['groomers']} groomers;"
            detail += f" {t['children_reached_before_alert']} children reached before an alert)"
            lines.append(_row(f"  {tactic}", detail))
    false_adults = f"{fa['ordinary_adults']} of {fa['ordinary_adults_total']}"
    false_adults += f" ({fa['per_1000']} per 1,000"
    false_adults += f"; {_counts(fa['by_role'])})" if fa["ordinary_adults"] else ")"
    reached = det["children_reached_before_alert"]
    lines += [
        _row("first contact -> alert", _spread(det["hours_from_first_contact_to_alert"], " h")),
        _row("children contacted before alert", _spread(det["children_contacted_before_alert"])),
        _row(
            "children contacted, never alerted",
            _spread(det["children_contacted_by_groomers_never_alerted"]),
        ),
        _row("children reached before alert", f"{reached['total']} in all; {_spread(reached)}"),
        _row("false alerts, benign adults", false_adults),
        _row("alerts on children", str(fa["children"])),
    ]
    for role, figures in fa["per_role"].items():
        label = f"  {role}"
        lines.append(
            _row(label, f"{figures['alerted']} of {figures['of']} ({figures['per_1000']} per 1,000)")
        )
    return lines


def _harm(d: dict[str, Any]) -> list[str]:
    harm = d["harm"]
    delivered = f"{harm['groomer_messages_delivered_to_children']}"
    delivered += f" (to {harm['children_messaged_by_a_groomer']} children)"
    refused = d["friction"]["requests_refused_by_role"]
    return [
        "What got through (a child accepted the groomer, so they were connected)",
        _row("requests refused (not restricted)", _counts(refused) if refused else "none"),
        _row("groomer requests accepted", str(harm["groomer_requests_accepted_by_children"])),
        _row("groomer messages delivered", delivered),
    ]


def render_table(outcome: Outcome) -> str:
    d = outcome.data
    parts = [_header(d), _protections(d), _alerts(d), _detection(d), _harm(d)]
    return "\n\n".join("\n".join(part) for part in parts)
