"""Discovery filtering of the app's JSON answer: every list of people, one request at a time.

The app answers as if Safe Accounts were not there; this module drops the accounts the
discovery rules filter from every list the route names (`response.items`,
`response.lists`), and adds safety notices to the ones a minor sees without a mutual
connection. It changes the parsed document in place and queues one decision-log row per
rule that removed or would have removed someone.

A list the app writes as an object (`{"0": ..., "3": ...}`, a map keyed by id) is filtered
by its values, as a client shows them; a bare value in a list (`["kid_mia"]`) is the id it
spells. An answer not in the shape the policy says (a discovery answer without its list or
with items whose ids the route's `id` does not read, a profile that is not an object) is
unreadable (`capture.Unreadable`) if it names, outside the items whose ids were read, an
account the rules would filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import Any

from ..decide.budget import within
from ..decide.ids import PLAIN_FIRST
from ..decide.page import decide_page
from ..decide.rules import PairVerdict, Party, RuleSet, strongest
from ..policy.jsonpath import WILDCARD
from ..policy.model import Action, Mode, Outcome
from ..runtime import Runtime
from . import records
from .capture import Unreadable
from .ids import account_ids, ids_at
from .jsondoc import objects, walk

NOTICE_STRANGER = "You have no friends in common with this account. Only accept people you know."
NOTICE_RESTRICTED = "This account has been restricted while our safety team reviews it."


async def filter_lists(
    rt: Runtime,
    *,
    route: str,
    rules: RuleSet,
    at: float,
    actor: Party,
    document: Any,
    lists: Sequence[tuple[object, ...]],
    id_path: tuple[object, ...],
    notice_field: str | None,
    answer_list: bool = False,
    profile_found: bool = True,
) -> tuple[bool, str | None, dict[str, dict[str, str]]]:
    """Drop the accounts the discovery rules `rules` (the route's, for its kind of list)
    filter from every list; add safety notices. Returns (changed, the decision id of the
    filtering, notices by account).

    The answer is in the shape the policy says unless `answer_list` (`lists[0]` is the list
    the answer is: a discovery route's `items`) and that list is not found or holds an item
    whose id the route's `id` does not read (a card nested deeper, a wrapper's value), or the
    profile the answer is was not found (`profile_found`). Then, if it names an account the
    rules would filter anywhere but in the items whose ids were read, it raises `Unreadable`."""
    if not lists:
        return False, None, {}
    located = [_locate(document, steps) for steps in lists]
    slots = [slot for found in located for slot in found]
    items = [container[key] for container, keys in slots for key in keys]
    per_item, all_plain = _ids_of_items(items, id_path)
    if not all_plain:
        _bare_ids(per_item, slots)
    unread = not all_plain and not all(per_item)
    if not profile_found or (answer_list and (not located[0] or unread)):
        read = frozenset(id(item) for item, ids in zip(items, per_item, strict=True) if ids)
        await _nothing_filtered_astray(rt, rules, actor, document, id_path, read)
    if not items:
        return False, None, {}
    # Every id once, in first-seen order (as `account_ids` would list them).
    # With every item's id plain, `per_item` holds strings only.
    ids: list[str] = list(dict.fromkeys(per_item)) if all_plain else _distinct(per_item)  # type: ignore[arg-type]
    # Notices are for the actor as the request saw it; verdicts read its band afresh, as
    # they read every listed account's.
    with_notices = notice_field is not None and _may_see_notices(actor, rt)
    page = await decide_page(rt.facts, rules, actor.id, ids, with_targets=with_notices)
    notices: dict[str, dict[str, str]] = {}
    if with_notices and page.targets is not None:
        async with within(rt.facts.time_budget):
            notices = await _notices(rt, actor, page.targets)
    ruled = page.ruled
    if not ruled and not notices:
        return False, None, notices  # every listed account is allowed: nothing to change or log
    # The items a rule applies to, by position: usually a few of many, found at C speed.
    if all_plain:
        decided = [(i, ruled[v]) for i, v in enumerate(per_item) if v in ruled]
    else:
        decisive_of_items = map(_decisive, per_item, repeat(ruled))
        decided = [(i, d) for i, d in enumerate(decisive_of_items) if d is not None]
    removed: list[PairVerdict] = []
    monitored: list[PairVerdict] = []
    removed_at: set[int] = set()
    dropped: dict[int, tuple[Any, list[Any]]] = {}
    removes: dict[int, bool] = {}  # by verdict: a rule's verdict is one shared object
    slot, start, end = -1, 0, 0
    container: Any = None
    keys: Sequence[Any] = ()
    drop: list[Any] | None = None
    for i, decisive in decided:
        verdict = decisive.verdict
        removing = removes.get(id(verdict))
        if removing is None:
            removing = removes[id(verdict)] = (
                verdict.mode is Mode.ENFORCE and verdict.outcome.strength >= Outcome.FILTER.strength
            )
        if not removing:
            monitored.append(decisive)
            continue
        removed.append(decisive)
        removed_at.add(i)
        while i >= end:  # `decided` is in item order: walk the slots along with it
            slot += 1
            container, keys = slots[slot]
            start, end, drop = end, end + len(keys), None
        if drop is None:
            drop = dropped.setdefault(id(container), (container, []))[1]
        drop.append(keys[i - start])
    if notices and notice_field:
        # Every item that stays carries its notice: a monitor-mode rule changes nothing the
        # viewer sees, so it does not take the notice away either.
        for i, item in enumerate(items):
            if i not in removed_at:
                _add_notice(item, per_item[i], notices, notice_field)
    for holder, gone in dropped.values():
        if isinstance(holder, list):
            for position in sorted(set(gone), reverse=True):
                del holder[position]
        else:
            for key in dict.fromkeys(gone):
                del holder[key]
    decision_id = records.log_decision(
        rt, action=Action.DISCOVERY, route=route, at=at, actor=actor,
        pairs=removed + monitored, affected_by_rule=True, changed_nothing=not removed,
    )
    return bool(removed or notices), (decision_id if removed else None), notices


async def _nothing_filtered_astray(
    rt: Runtime, rules: RuleSet, actor: Party, document: Any, id_path: tuple[object, ...], read: frozenset[int]
) -> None:
    """Raise `Unreadable` if an answer not in the shape the policy says (a shape the app
    answers in only sometimes: another key, one line of NDJSON, rows where one object was
    expected, a card nested deeper than the path says) names, anywhere but in the items
    whose ids were `read` (by `id()`), an account the rules would filter. Its client may
    show it; we would not know where to remove it from. An answer that names no such
    account (an empty search as `{"count": 0}`, the viewer's own card) passes."""
    ids = account_ids(i for node in objects(document, read) for i in ids_at(node, id_path))
    if not ids:
        return
    page = await decide_page(rt.facts, rules, actor.id, ids)
    for decisive in page.ruled.values():
        verdict = decisive.verdict
        if verdict.mode is Mode.ENFORCE and verdict.outcome.strength >= Outcome.FILTER.strength:
            raise Unreadable("response does not hold its list where the policy says, and names accounts to filter")


def _ids_of_items(
    items: list[Any], id_path: tuple[object, ...]
) -> tuple[list[str | list[str]], bool]:
    """Each item's account ids, and whether every item has one plain id (kept as the string
    itself: no list per item). Any other item's ids are as `ids_at` spells them.

    A JSON integer (a database's key, the commonest id of all) has one spelling, its digits
    (`ids.spellings`), so it is kept as that string too: a page of integer ids costs no
    list, no path walk and no second reading of each id."""
    key = id_path[0] if len(id_path) == 1 and type(id_path[0]) is str else None
    if key is None:
        return [ids_at(item, id_path) for item in items], False
    per_item: list[Any] = [item.get(key) if type(item) is dict else None for item in items]
    others: list[int] = []
    for i, v in enumerate(per_item):
        if type(v) is str:
            if v and v[0] in PLAIN_FIRST and not v[-1].isspace():
                continue
        elif type(v) is int:  # never a bool: `true` reads as account 1, not "True"
            per_item[i] = str(v)
            continue
        others.append(i)
    for i in others:
        per_item[i] = ids_at(items[i], id_path)
    return per_item, not others


def _bare_ids(per_item: list[Any], slots: list[tuple[Any, Sequence[Any]]]) -> None:
    """A list item that is a bare value (`{"results": ["kid_mia"]}`, as `?fields=handle`
    answers) is the id itself, as a client shows it: read as `ids.spellings` reads it when the
    route's `id` found nothing in it. Only in lists: an object's values (a wrapper's `next`
    cursor or `count`) are no accounts."""
    i = 0
    for container, keys in slots:
        if isinstance(container, list):
            for key in keys:
                item = container[key]
                if per_item[i] == [] and item is not None and not isinstance(item, dict | list):
                    per_item[i] = account_ids([item])
                i += 1
        else:
            i += len(keys)


def _distinct(per_item: list[str | list[str]]) -> list[str]:
    """`account_ids` over every item's ids."""
    seen: dict[str, None] = {}
    for ids in per_item:
        if type(ids) is str:
            seen[ids] = None
        else:
            for account in account_ids(ids):
                seen[account] = None
    return list(seen)


def _decisive(ids: str | list[str], ruled: dict[str, PairVerdict]) -> PairVerdict | None:
    if type(ids) is str:
        return ruled.get(ids)
    return strongest([ruled[i] for i in ids if i in ruled])


def _add_notice(
    item: Any, ids: str | list[str], notices: dict[str, dict[str, str]], field: str | None
) -> None:
    if not isinstance(item, dict) or field is None:
        return
    if type(ids) is str:
        notice = notices.get(ids)
    else:
        notice = next((notices[i] for i in ids if i in notices), None)
    if notice is not None:
        item[field] = notice


async def _notices(rt: Runtime, viewer: Party, listed: Sequence[Party]) -> dict[str, dict[str, str]]:
    """Safety notices for a minor viewing accounts with no mutual connections, or restricted ones."""
    viewer_id = viewer.id
    if viewer_id is None or not _may_see_notices(viewer, rt):
        return {}
    adults = [p.id for p in listed if p.id is not None and not records.is_minor(rt, p)]
    if not adults:
        return {}
    connected = await rt.relationships.connected_among(viewer_id, adults)
    restricted = {p.id for p in listed if p.restricted}
    notices: dict[str, dict[str, str]] = {}
    for person in adults:
        if person in connected:
            continue
        if person in restricted:
            notices[person] = {"kind": "restricted", "message": NOTICE_RESTRICTED}
        elif await rt.relationships.mutual(viewer_id, person) == 0:
            notices[person] = {"kind": "no_mutual_connections", "message": NOTICE_STRANGER}
    return notices


def _may_see_notices(viewer: Party, rt: Runtime) -> bool:
    """Only a signed-in minor is shown safety notices."""
    return viewer.id is not None and records.is_minor(rt, viewer)


def _locate(document: Any, steps: tuple[object, ...]) -> list[tuple[Any, Sequence[Any]]]:
    """(container, keys of the items in it) for every item the path reaches, so items can
    be removed in place: every position of a list the path ends in, every key of an object
    it ends in with `[*]`, or one key."""
    if not steps:
        return []
    *parent_steps, last = steps
    out: list[tuple[Any, Sequence[Any]]] = []
    for parent in walk(document, tuple(parent_steps)) if parent_steps else [document]:
        if last is WILDCARD and isinstance(parent, list):
            out.append((parent, range(len(parent))))
        elif last is WILDCARD and isinstance(parent, dict):
            # An object where a list was expected (PHP's `array_filter` then `json_encode`
            # answers `{"0": ..., "3": ...}`; a map keyed by id): a client shows its values
            # (`Object.values`) as it would a list's items, so each value is an item.
            out.append((parent, list(parent)))
        elif isinstance(last, int) and isinstance(parent, list) and -len(parent) <= last < len(parent):
            out.append((parent, (last % len(parent),)))
        elif isinstance(last, str) and isinstance(parent, dict) and last in parent:
            value = parent[last]
            if isinstance(value, list):
                out.append((value, range(len(value))))
            else:
                out.append((parent, (last,)))
    return out
