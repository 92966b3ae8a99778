"""Discovery filtering of the app's JSON answer: every list of people, one request at a time.

The app answers as if Safe Accounts were not there; this module drops the accounts the
discovery rules filter from every list the route names (`response.items`,
`response.lists`), and adds safety notices to the ones a minor sees without a mutual
connection. It changes the parsed document in place and queues one decision-log row per
rule that removed or would have removed someone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from ..bands.age import AgeBand
from ..policy.engine import Party
from ..policy.jsonpath import WILDCARD, walk
from ..policy.model import Action, Mode, Outcome
from ..runtime import Runtime
from . import records
from .facts import PairVerdict, assess, strongest
from .ids import account_ids, ids_at

NOTICE_STRANGER = "You have no friends in common with this account. Only accept people you know."
NOTICE_RESTRICTED = "This account has been restricted while our safety team reviews it."

_REMOVED = object()


async def filter_lists(
    rt: Runtime,
    *,
    route: str,
    at: float,
    actor: Party,
    document: Any,
    lists: Sequence[tuple[object, ...]],
    id_path: tuple[object, ...],
    notice_field: str | None,
) -> tuple[bool, str | None, dict[str, dict[str, str]]]:
    """Drop the accounts the discovery rules filter from every list; add safety notices.
    Returns (changed, the decision id of the filtering, notices by account)."""
    if not lists:
        return False, None, {}
    located = [found for steps in lists for found in _locate_items(document, steps)]
    if not located:
        return False, None, {}
    ids_per_item = [ids_at(item, id_path) for _, _, item in located]
    ids = account_ids(i for group in ids_per_item for i in group)
    _, pairs = await assess(rt, rt.policy.rules[Action.DISCOVERY], actor.id, ids)
    notices: dict[str, dict[str, str]] = {}
    if notice_field is not None:
        async with asyncio.timeout(rt.policy.defaults.time_budget_ms / 1000):
            notices = await _notices(rt, actor, [p.target for p in pairs])
    by_id = {p.target.id: p for p in pairs}
    removed: list[PairVerdict] = []
    monitored: list[PairVerdict] = []
    for (container, key, item), item_ids in zip(located, ids_per_item, strict=True):
        decisive = strongest([by_id[i] for i in item_ids if i in by_id])
        if decisive is None:
            if notice_field and isinstance(item, dict):
                notice = next((notices[i] for i in item_ids if i in notices), None)
                if notice is not None:
                    item[notice_field] = notice
            continue
        if decisive.verdict.mode is Mode.ENFORCE and decisive.verdict.outcome.strength >= Outcome.FILTER.strength:
            removed.append(decisive)
            container[key] = _REMOVED
        else:
            monitored.append(decisive)
    for container in {id(c): c for c, _, _ in located}.values():
        if isinstance(container, list):
            container[:] = [x for x in container if x is not _REMOVED]
        else:
            for key in [k for k, v in container.items() if v is _REMOVED]:
                del container[key]
    decision_id = records.log_decision(
        rt, action=Action.DISCOVERY, route=route, at=at, actor=actor,
        pairs=removed + monitored, affected_by_rule=True,
    )
    return bool(removed or notices), (decision_id if removed else None), notices


async def _notices(rt: Runtime, viewer: Party, listed: Sequence[Party]) -> dict[str, dict[str, str]]:
    """Safety notices for a minor viewing accounts with no mutual connections, or restricted ones."""
    if viewer.id is None or not is_minor(viewer, rt):
        return {}
    adults = [p for p in listed if p.id is not None and not is_minor(p, rt)]
    if not adults:
        return {}
    connected = await rt.relationships.connected_among(viewer.id, [p.id for p in adults if p.id])
    notices: dict[str, dict[str, str]] = {}
    for person in adults:
        assert person.id is not None
        if person.id in connected:
            continue
        if person.restricted:
            notices[person.id] = {"kind": "restricted", "message": NOTICE_RESTRICTED}
        elif await rt.relationships.mutual(viewer.id, person.id) == 0:
            notices[person.id] = {"kind": "no_mutual_connections", "message": NOTICE_STRANGER}
    return notices


def is_minor(person: Party, rt: Runtime) -> bool:
    return person.band.is_minor or (person.band is AgeBand.UNKNOWN and rt.policy.unknown_is_minor)


def _locate_items(document: Any, steps: tuple[object, ...]) -> list[tuple[Any, Any, Any]]:
    """(container, key, item) for every item the path reaches, so items can be removed in place."""
    if not steps:
        return []
    *parent_steps, last = steps
    out: list[tuple[Any, Any, Any]] = []
    for parent in walk(document, tuple(parent_steps)) if parent_steps else [document]:
        if last is WILDCARD and isinstance(parent, list):
            out.extend((parent, i, item) for i, item in enumerate(parent))
        elif isinstance(last, int) and isinstance(parent, list) and -len(parent) <= last < len(parent):
            out.append((parent, last, parent[last]))
        elif isinstance(last, str) and isinstance(parent, dict) and last in parent:
            value = parent[last]
            if isinstance(value, list):
                out.extend((value, i, item) for i, item in enumerate(value))
            else:
                out.append((parent, last, value))
    return out
