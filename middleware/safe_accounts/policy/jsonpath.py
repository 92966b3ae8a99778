"""Tiny JSON paths for policy files: `to`, `recipient.id`, `participants[*]`, `[*].id`, `items[0]`.

The syntax, checked when a policy loads: a path compiles once into a tuple of steps
(`pipeline/jsondoc.py` walks them over request and response documents).
"""

from __future__ import annotations

import re

from ..errors import ConfigurationError

WILDCARD = object()
_STEP = re.compile(r"""([^.\[\]]+)|\[(\*|\d+)\]|\.""")


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
        name, index = match.group(1), match.group(2)
        if name is not None:
            steps.append(name)
        elif index == "*":
            steps.append(WILDCARD)
        elif index is not None:
            steps.append(int(index))
        position = match.end()
    return tuple(steps)
