"""Cross-references the model cannot see on its own, checked on the merged policy.

Each check reads the plain merged data defensively (a value of the wrong type is the
model's to report, not ours), so that these problems are listed together with the
model's, all in one go. Each finding is (location, reason). Conditions that read a
relationship lookup the policy does not declare are `needs.py`'s: whether one is a problem
depends on which file wrote it, which the loader knows.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import zoneinfo
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import ConfigurationError
from . import sqltext
from .jsonpath import compile_path
from .model import CHANGES_NOTHING
from .paths import template_params

Loc = tuple[str | int, ...]
Finding = tuple[Loc, str]

_METHOD = re.compile(r"^[A-Z]+$")
_CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_SOURCE = re.compile(r"^(path|query|json|form)\.(.+)$")
_WINDOW = re.compile(r"^(\d+)[smhd]$")
_BANDS = ("under_13", "13_15", "16_17", "adult", "unknown")
_ASSURANCES = ("self_declared", "estimated", "verified")
# What the relationship lookups are called with (see Relationships in model.py).
_LOOKUP_PARAMS: dict[str, tuple[str, ...]] = {
    "connected": ("actor", "targets"),
    "mutual_count": ("actor", "target"),
    "community_ties": ("actor", "target", "now"),
    "vouched": ("account",),
    "adult_connections": ("account", "adult_born_by", "now"),
}
# The lookups called with the account the answer is about, rather than with an actor.
_ABOUT_ACCOUNT = {
    "vouched": "the account that may be vouched for",
    "adult_connections": "the account whose connections are counted",
}
# ... and the moderators' display lookup (see Moderation in model.py).
_DISPLAY_PARAMS = ("accounts",)


def find(data: Any, where: Callable[[Loc], str]) -> Iterator[Finding]:
    """Every cross-reference problem in `data`; `where(loc)` says where a value was written
    (for "also at base.yaml:12")."""
    if not isinstance(data, dict):
        return
    written = data.get("queries")
    queries: dict[str, Any] = written if isinstance(written, dict) else {}
    yield from _duplicates(data, where)
    yield from _routes(data, queries)
    yield from _lookups(data, queries)
    yield from _signals(data)
    yield from _identity(data)
    yield from _rules(data)
    yield from _tests(data)


def _entries(data: Any, *path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for step in path:
        data = data.get(step) if isinstance(data, dict) else None
    if isinstance(data, list):
        for index, item in enumerate(data):
            if isinstance(item, dict):
                yield index, item


def _ids(data: Any, *path: str) -> set[str]:
    return {item["id"] for _, item in _entries(data, *path) if isinstance(item.get("id"), str)}


def _duplicates(data: dict[str, Any], where: Callable[[Loc], str]) -> Iterator[Finding]:
    groups: list[tuple[str, str, list[tuple[str, ...]]]] = [
        ("rule id", "id", [("rules",)]),
        ("signal id", "id", [("signals", "counts"), ("signals", "rates"), ("signals", "scores")]),
        ("route name", "name", [("routes",)]),
        ("test name", "name", [("tests",)]),
    ]
    for what, key, places in groups:
        seen: dict[str, Loc] = {}
        for place in places:
            for index, item in _entries(data, *place):
                value = item.get(key)
                if not isinstance(value, str):
                    continue
                here: Loc = (*place, index, key)
                if value in seen:
                    hint = _DUPLICATE_HINTS.get(what, "")
                    yield here, f"duplicate {what} `{value}` (also at {where(seen[value])}){hint}"
                else:
                    seen[value] = here


# Tests are not merged by name (merge.py): a case named like one of the base's is a mistake.
_DUPLICATE_HINTS = {"test name": ": the base's tests run too, so give this one a name of its own"}


def _routes(data: dict[str, Any], queries: dict[str, Any]) -> Iterator[Finding]:
    for index, route in _entries(data, "routes"):
        at = ("routes", index)
        methods = route.get("method")
        for method in [methods] if isinstance(methods, str) else methods if isinstance(methods, list) else []:
            if isinstance(method, str) and not _METHOD.match(method):
                hint = f" ({method.upper()})" if _METHOD.match(method.upper()) else ""
                yield (*at, "method"), f"method {method!r} must be an upper-case HTTP method{hint}"
        params: tuple[str, ...] | None = None
        template = route.get("path")
        if isinstance(template, str):
            try:
                params = template_params(template)
            except ConfigurationError as exc:
                yield (*at, "path"), str(exc)
        for t_index, target in _entries(route, "targets"):
            yield from _target((*at, "targets", t_index), target, params, template, queries)
        answer = route.get("response_from")
        if isinstance(answer, dict) and isinstance(answer.get("field"), str):
            yield from _source((*at, "response_from", "field"), answer["field"], params, template)
        if isinstance(route.get("report_text"), str):
            yield from _source((*at, "report_text"), route["report_text"], params, template)
        shape = route.get("response")
        if isinstance(shape, dict):
            for key in ("items", "id"):
                if isinstance(shape.get(key), str) and not _is_json_path(shape[key]):
                    yield (*at, "response", key), _bad_json_path(shape[key])


def _target(
    at: Loc, target: dict[str, Any], params: tuple[str, ...] | None, template: Any, queries: dict[str, Any]
) -> Iterator[Finding]:
    name = target.get("path")
    if isinstance(name, str) and params is not None and name not in params:
        yield (*at, "path"), _not_in_template(name, template, params)
    pointer = target.get("json")
    if isinstance(pointer, str) and not _is_json_path(pointer):
        yield (*at, "json"), _bad_json_path(pointer)
    if isinstance(target.get("callable"), str) and not _CALLABLE.match(target["callable"]):
        yield (*at, "callable"), _bad_callable(target["callable"])
    query_name = target.get("sql")
    if not isinstance(query_name, str):
        return
    params_written = target.get("params")
    bound: dict[str, Any] = params_written if isinstance(params_written, dict) else {}
    for key, source in bound.items():
        if isinstance(source, str):
            yield from _source((*at, "params", key), source, params, template)
    query = queries.get(query_name)
    if query is None:
        known = ", ".join(sorted(queries)) or "none are defined"
        yield (*at, "sql"), f"`sql` names query `{query_name}`, which is not under `queries:` ({known})"
        return
    if isinstance(query, dict) and isinstance(query.get("sql"), str):
        used = sqltext.parameters(query["sql"])
        for missing in sorted(used - set(bound)):
            yield (*at, "params"), (
                f"query `{query_name}` uses :{missing}, which `params` does not bind "
                f"(add `{missing}: path.X`, `query.X`, `json.X`, `form.X` or `actor`)"
            )
        for unused in sorted(set(bound) - used):
            yield (*at, "params", unused), f"query `{query_name}` has no :{unused} parameter"


def _source(at: Loc, source: str, params: tuple[str, ...] | None, template: Any) -> Iterator[Finding]:
    if source == "actor":
        return
    found = _SOURCE.match(source)
    if found is None:
        yield at, f"{source!r} must be `actor`, `path.NAME`, `query.NAME`, `json.PATH` or `form.NAME`"
    elif found.group(1) == "path" and params is not None and found.group(2) not in params:
        yield at, _not_in_template(found.group(2), template, params)
    elif found.group(1) == "json" and not _is_json_path(found.group(2)):
        yield at, _bad_json_path(found.group(2))


def _not_in_template(name: str, template: Any, params: tuple[str, ...]) -> str:
    known = ", ".join(params) or "it has none"
    return f"path parameter `{name}` is not in the route's template {template!r} ({known})"


@functools.lru_cache(maxsize=1024)
def _is_json_path(pointer: str) -> bool:
    # The request path's own parser decides: what it accepts at start-up is what we accept.

    try:
        compile_path(pointer)
    except ConfigurationError:
        return False
    return True


def _bad_json_path(pointer: str) -> str:
    return (
        f"{pointer!r} is not a JSON path: use dotted names, each optionally followed by "
        "[*] or [N] (e.g. `recipient_id`, `participants[*].id`, `[*]`)"
    )


def _bad_callable(spec: str) -> str:
    return f"{spec!r} must name a function as `package.module:function`"


def _lookups(data: dict[str, Any], queries: dict[str, Any]) -> Iterator[Finding]:
    lookups: list[tuple[Loc, Any, tuple[str, ...] | None]] = [
        (("queries", name), lookup, None) for name, lookup in queries.items()
    ]
    relationships = data.get("relationships")
    if isinstance(relationships, dict):
        for name, names in _LOOKUP_PARAMS.items():
            lookups.append((("relationships", name), relationships.get(name), names))
    moderation = data.get("moderation")
    if isinstance(moderation, dict):
        lookups.append((("moderation", "display"), moderation.get("display"), _DISPLAY_PARAMS))
    for at, lookup, allowed in lookups:
        if not isinstance(lookup, dict):
            continue
        if isinstance(lookup.get("callable"), str) and not _CALLABLE.match(lookup["callable"]):
            yield (*at, "callable"), _bad_callable(lookup["callable"])
        sql = lookup.get("sql")
        if not isinstance(sql, str):
            continue
        for problem in sqltext.problems(sql):
            yield (*at, "sql"), f"query {problem}"
        if allowed is not None:
            used = sqltext.parameters(sql)
            for unknown in sorted(used - set(allowed)):
                yield (*at, "sql"), (
                    f"query uses :{unknown}, but `{at[-1]}` is called with "
                    + " and ".join(f":{name}" for name in allowed)
                )
            if allowed == _DISPLAY_PARAMS:
                if "accounts" not in used:
                    yield (*at, "sql"), "query must use :accounts (the ids to show, as `IN :accounts`)"
            elif at[-1] in _ABOUT_ACCOUNT:
                if "account" not in used:
                    yield (*at, "sql"), f"query must use :account ({_ABOUT_ACCOUNT[str(at[-1])]})"
            elif "actor" not in used:
                yield (*at, "sql"), f"query must use :actor (whose `{at[-1]}` this is)"


def _signals(data: dict[str, Any]) -> Iterator[Finding]:
    counts = _ids(data, "signals", "counts")
    at_night = False
    for index, count in _entries(data, "signals", "counts"):
        window = count.get("window")
        if isinstance(window, str) and (found := _WINDOW.match(window)) and int(found.group(1)) == 0:
            yield ("signals", "counts", index, "window"), "`window` must be longer than zero"
        for key in ("mutual_connections", "community_ties", "subject_adult_connections"):
            yield from _range(("signals", "counts", index, "where", key), count.get("where"), key)
        where = count.get("where")
        if not isinstance(where, dict):
            continue
        within = where.get("accepted_within")
        if isinstance(within, str) and (found := _WINDOW.match(within)) and int(found.group(1)) == 0:
            yield ("signals", "counts", index, "where", "accepted_within"), "`accepted_within` must be longer than zero"
        at_night = at_night or (where.get("at_night") is not None and count.get("enabled") is not False)
    if at_night:
        yield from _night_zone(data)
    yield from _scores(data)
    for index, rate in _entries(data, "signals", "rates"):
        for key in ("numerator", "denominator"):
            name = rate.get(key)
            if isinstance(name, str) and name not in counts:
                known = ", ".join(sorted(counts)) or "none"
                yield ("signals", "rates", index, key), (
                    f"`{key}` names `{name}`, which is not a count signal (known: {known})"
                )


def _scores(data: dict[str, Any]) -> Iterator[Finding]:
    """Each part of an enabled score names an enabled count or rate signal, once."""
    enabled = {
        item["id"]: item.get("enabled") is not False
        for place in ("counts", "rates")
        for _, item in _entries(data, "signals", place)
        if isinstance(item.get("id"), str)
    }
    for index, score in _entries(data, "signals", "scores"):
        if score.get("enabled") is False:
            continue
        seen: set[str] = set()
        for p_index, part in _entries(score, "parts"):
            name = part.get("signal")
            if not isinstance(name, str):
                continue
            at: Loc = ("signals", "scores", index, "parts", p_index, "signal")
            if name not in enabled:
                known = ", ".join(sorted(enabled)) or "none"
                yield at, f"`signal` names `{name}`, which is not a count or rate signal (known: {known})"
            elif not enabled[name] and part.get("weight") != 0:
                yield (
                    at,
                    (
                        f"`{name}` is disabled (`enabled: false`): a score cannot read it "
                        "(enable it, drop the part with `weight: 0`, or disable the score)"
                    ),
                )
            if name in seen:
                yield at, f"`{name}` is already a part of this score: give each signal one weight"
            seen.add(name)


def _night_zone(data: dict[str, Any]) -> Iterator[Finding]:
    """The night's time zone, read only when an enabled signal asks what time of night it is:
    a policy that never does needs no time zone database."""
    signals = data.get("signals")
    night = signals.get("night") if isinstance(signals, dict) else None
    zone = night.get("timezone", "UTC") if isinstance(night, dict) else "UTC"
    if not isinstance(zone, str):
        return  # the model's to report
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        at: Loc = ("signals", "night", "timezone") if isinstance(night, dict) and "timezone" in night else ("signals",)
        yield at, (
            f"{zone!r} is not a time zone this system knows (an IANA name such as Europe/London; "
            "without the operating system's time zone database, `pip install tzdata`)"
        )


def _range(at: Loc, holder: Any, key: str = "mutual_connections") -> Iterator[Finding]:
    limits = holder.get(key) if isinstance(holder, dict) else None
    if isinstance(limits, dict):
        low, high = limits.get("min"), limits.get("max")
        if isinstance(low, int) and isinstance(high, int) and low > high:
            yield at, f"`min` ({low}) is greater than `max` ({high}): nothing can match"


def _identity(data: dict[str, Any]) -> Iterator[Finding]:
    for index, source in _entries(data, "identity"):
        spec = source.get("callable")
        if source.get("source") == "callable" and isinstance(spec, str) and not _CALLABLE.match(spec):
            yield ("identity", index, "callable"), _bad_callable(spec)
        if source.get("source") != "header" or not isinstance(source.get("trusted_proxies"), list):
            continue
        for p_index, proxy in enumerate(source["trusted_proxies"]):
            if not isinstance(proxy, str):
                continue
            try:
                ipaddress.ip_network(proxy, strict=True)
            except ValueError as exc:
                yield ("identity", index, "trusted_proxies", p_index), (
                    f"{proxy!r} is not an IP address or network ({exc}); "
                    "write e.g. 10.0.0.5, 10.0.0.0/8 or fd00::/8"
                )


def _rules(data: dict[str, Any]) -> Iterator[Finding]:
    for index, rule in _entries(data, "rules"):
        yield from _range(("rules", index, "when", "mutual_connections"), rule.get("when"))
        yield from _sampled_log(("rules", index), rule)


# The actions whose allowed decisions may be sampled (model.CHANGES_NOTHING), as written.
_SAMPLED_ACTIONS = tuple(sorted(action.value for action in CHANGES_NOTHING))


def _sampled_log(at: Loc, rule: dict[str, Any]) -> Iterator[Finding]:
    """A rule that samples its log (`log: {sample: ...}`) must be an `allow` rule about
    actions that change nothing: a refusal, a filter or a redaction is always logged, and a
    DM or a contact request allowed is what alerts and evidence point back to."""
    log = rule.get("log")
    if not isinstance(log, dict) or "sample" not in log:
        return
    then = rule.get("then")
    if isinstance(then, str) and then != "allow":
        yield (*at, "log", "sample"), (
            f"only `then: allow` rules sample their log; this rule's `{then}` decisions are always logged"
        )
    actions = rule.get("action")
    written = [actions] if isinstance(actions, str) else actions if isinstance(actions, list) else []
    others = [a for a in written if isinstance(a, str) and a not in _SAMPLED_ACTIONS]
    if others:
        yield (*at, "log", "sample"), (
            f"only the allowed decisions of actions that change nothing ({', '.join(_SAMPLED_ACTIONS)}) "
            f"may be sampled; this rule is also about {', '.join(others)}, whose decisions are always logged"
        )


def _tests(data: dict[str, Any]) -> Iterator[Finding]:
    # A route with a fixed outcome decides as the rule `route:NAME` (decide/fixed.py).
    rules = _ids(data, "rules") | {
        f"route:{route['name']}" for _, route in _entries(data, "routes")
        if route.get("outcome") is not None and isinstance(route.get("name"), str)
    }
    for index, test in _entries(data, "tests"):
        at = ("tests", index)
        rule = test.get("rule")
        if isinstance(rule, str) and rule not in rules:
            yield (*at, "rule"), f"`rule` names `{rule}`, which is not a rule of this policy"
        request = test.get("request")
        if isinstance(request, str) and not re.match(r"^[A-Z]+ /\S*$", request):
            yield (*at, "request"), f"`request` must look like `POST /api/messages`; got {request!r}"
        mutual = test.get("mutual")
        if isinstance(mutual, dict):
            for pair in mutual:
                first, comma, second = pair.partition(",")
                if not (comma and first.strip() and second.strip() and "," not in second):
                    yield (*at, "mutual", pair), f"`mutual` keys name a pair as `a,b`; got {pair!r}"
        accounts = test.get("accounts")
        if isinstance(accounts, dict):
            for account, band in accounts.items():
                if isinstance(band, str) and not _valid_band(band):
                    yield (*at, "accounts", account), (
                        f"{band!r} must be a band ({', '.join(_BANDS)}), optionally "
                        f"followed by /assurance ({', '.join(_ASSURANCES)})"
                    )


def _valid_band(text: str) -> bool:
    band, _, assurance = text.partition("/")
    return band in _BANDS and (not assurance or assurance in _ASSURANCES)
