"""JSON documents on the request path: bodies parsed keeping duplicate keys, and compiled
policy paths walked over them.

Walking yields every value a path reaches, so a list of recipients gives every recipient.
Nothing here recurses with the document's depth: the parser's own recursion is caught
(`TooDeep`), and a walk recurses once per step of a policy's path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from ..policy.jsonpath import KEYS, WILDCARD

_ABSENT = object()


class TooDeep(ValueError):
    """JSON nested deeper than the parser's recursion allows: unreadable, never a crash."""


class DuplicateKey(list):  # type: ignore[type-arg]
    """Every value a JSON object gave for one key written more than once.

    Parsers disagree on which of `{"to": 1, "to": 2}` wins; the app's parser may take either,
    so every value counts as a target.
    """


def pairs_keeping_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            existing = out[key]
            if isinstance(existing, DuplicateKey):
                existing.append(value)
            else:
                out[key] = DuplicateKey([existing, value])
        else:
            out[key] = value
    return out


# Built once: `json.loads(..., object_pairs_hook=...)` would build a decoder per call.
_CAREFUL = json.JSONDecoder(object_pairs_hook=pairs_keeping_duplicates)


def quoted_keys(paths: Iterable[tuple[object, ...]]) -> tuple[str, ...]:
    """The object keys `paths` read, quoted as JSON writes them (and `"id"`, read from id
    objects): what `read_json` must see written once to trust a fast parse."""
    keys = {"id", *(step for path in paths for step in path if isinstance(step, str))}
    return tuple(sorted(f'"{key}"' for key in keys))


def read_json(text: str, keys: tuple[str, ...] | None) -> Any:
    """Parse JSON text, keeping every value of a key written twice where it can matter.

    Parsers disagree on which of `{"to": 1, "to": 2}` wins, so every value must count. Keeping
    them takes a Python-level hook, several times the cost of orjson; orjson (last value
    wins) is used when that cannot matter: no backslash in the text (every key is written
    verbatim) and none of the `keys` the policy reads appears more than once. `keys=None`
    (a reader that may look anywhere) always takes the careful path.
    """
    if keys is not None and "\\" not in text:
        for key in keys:  # a loop, not `all(...)`: this runs on every body
            if text.count(key) > 1:
                break
        else:
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                pass  # NaN, huge integers, nesting past orjson's limit...: the standard parser decides
    try:
        return _CAREFUL.decode(text)
    except RecursionError as exc:
        # A body we cannot read is refused as unreadable (400), never a crash, and never a
        # "try again" (503): it would fail the same way every time.
        raise TooDeep("JSON nested too deeply") from exc


def objects(document: Any, skip: frozenset[int] = frozenset()) -> Iterator[dict[str, Any]]:
    """Every object in `document`, at any depth (without recursion: an answer may be deep),
    but those whose `id()` is in `skip` and what is inside them."""
    stack = [document]
    while stack:
        node = stack.pop()
        if skip and id(node) in skip:
            continue
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _expand(value: Any) -> Iterator[Any]:
    if isinstance(value, DuplicateKey):
        for item in value:
            yield from _expand(item)
    else:
        yield value


def walk(document: Any, steps: tuple[object, ...]) -> Iterator[Any]:
    """Every value `steps` reaches in `document`."""
    if len(steps) == 1 and type(steps[0]) is str and type(document) is dict:
        # The common case (`id`, `to`): one key of one object.
        value = document.get(steps[0], _ABSENT)
        if value is not _ABSENT:
            yield from _expand(value) if type(value) is DuplicateKey else (value,)
        return
    if not steps:
        yield from _expand(document)
        return
    step, rest = steps[0], steps[1:]
    for node in _expand(document):
        if step is WILDCARD:
            if isinstance(node, list):
                for item in node:
                    yield from walk(item, rest)
            elif isinstance(node, dict):
                # An object where a list was expected: its keys may be what the app iterates
                # (a key is a string: no further step reads into it), and its values too.
                for key, value in node.items():
                    if not rest:
                        yield key
                    yield from walk(value, rest)
        elif step is KEYS:
            if isinstance(node, dict):
                yield from node
        elif isinstance(step, int):
            if isinstance(node, list) and -len(node) <= step < len(node):
                yield from walk(node[step], rest)
        elif isinstance(node, dict) and step in node:
            yield from walk(node[step], rest)
