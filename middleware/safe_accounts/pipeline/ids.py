"""Account ids as the policy sees them: strings, whatever shape the request wrote them in.

`5`, `5.0`, `"5"`, `" 5 "` and `"005"` may all reach the app as account 5. Every spelling
that an app could read as the same account yields its canonical form as well, so no
spelling of an id escapes a rule (over-inclusion only ever adds a protected check).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MAX_ID_LENGTH = 255


def spellings(value: Any) -> tuple[str, ...]:
    if value is None or isinstance(value, bool):
        return ()
    if isinstance(value, int):
        return (str(value),)
    if isinstance(value, float):
        return (str(int(value)),) if value.is_integer() else (repr(value),)
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > MAX_ID_LENGTH:
            return ()
        out = [text] if text == value else [value, text]
        body = text[1:] if text[0] in "+-" else text
        if body.isdigit() and body.isascii():
            canonical = str(int(text))
            if canonical not in out:
                out.append(canonical)
        return tuple(out)
    if isinstance(value, dict):
        # `{"id": 5}` where the policy pointed at the object: the app's id field.
        return spellings(value.get("id"))
    return ()


def account_ids(values: Iterable[Any]) -> list[str]:
    """Distinct ids, in first-seen order."""
    seen: dict[str, None] = {}
    for value in values:
        for spelling in spellings(value):
            seen.setdefault(spelling, None)
    return list(seen)
