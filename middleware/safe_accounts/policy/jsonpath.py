"""Tiny JSON paths for policy files: `to`, `recipient.id`, `participants[*]`, `[*].id`, `items[0]`,
`members[*]~`.

The syntax, checked when a policy loads: a path compiles once into a tuple of steps
(`pipeline/jsondoc.py` walks them over request and response documents).

- a name (`to`) reads one key of an object;
- `[N]` picks the N-th item of a list;
- `[*]` (or `.*`) walks every item of a list, and every key and every value of an object:
  an app that iterates a list of recipients iterates an object's keys just as happily, so
  `{"members": {"<id>": true}}` names `<id>` as surely as `{"members": ["<id>"]}` does;
- `[*]~` (or `.*~`) walks only the keys of an object, for an app whose maps are keyed by
  account (`{"members": {"<id>": "admin"}}`) and whose values are not accounts. It ends a
  path: a key is a string, and no step reads into a string.
"""

from __future__ import annotations

import re

from ..errors import ConfigurationError

WILDCARD = object()
KEYS = object()
_STEP = re.compile(r"""(\*~?)(?=[.\[]|$)|([^.\[\]]+)|\[(\*|\d+)\](~?)|\.""")


def compile_path(path: str) -> tuple[object, ...]:
    steps: list[object] = []
    position = 0
    text = path.strip()
    if text in ("", "$"):
        return ()
    if text.startswith("$."):
        text = text[2:]
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None:
            raise ConfigurationError(f"JSON path {path!r}: cannot read {text[position:]!r}")
        if steps and steps[-1] is KEYS:
            raise ConfigurationError(f"JSON path {path!r}: `~` (object keys) must end the path")
        star, name, index, tilde = match.groups()
        if star is not None:
            steps.append(KEYS if star == "*~" else WILDCARD)
        elif name is not None:
            steps.append(name)
        elif index == "*":
            steps.append(KEYS if tilde else WILDCARD)
        elif index is not None:
            if tilde:
                raise ConfigurationError(f"JSON path {path!r}: `~` follows `[*]` only")
            steps.append(int(index))
        position = match.end()
    return tuple(steps)
