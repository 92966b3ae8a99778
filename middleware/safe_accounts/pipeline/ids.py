"""Account ids as the policy sees them: strings, whatever shape the request wrote them in.

`36`, `36.0`, `"36"`, `" 36 "`, `"036"`, `"+36.0"`, `"3_6"`, `"３６"` and `true` (as 1) may
all reach a typed handler as one account (`decide/ids.py` says which numbers a spelling
reads as). Every spelling that an app could read as the same account yields its canonical
form as well, so no spelling of an id escapes a rule (over-inclusion only ever adds a
protected check).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..decide.ids import MAX_ID_LENGTH, PLAIN_FIRST, numbers
from .jsondoc import DuplicateKey, walk


def spellings(value: Any) -> tuple[str, ...]:
    """Every id an app could read `value` (a JSON value, a path, query or form string) as:
    the value itself first, then without surrounding spaces, then the numbers it reads as."""
    if value is None:
        return ()
    if isinstance(value, bool):
        return ("1",) if value else ("0",)  # pydantic's lax `int` reads `true` as 1
    if isinstance(value, int):
        return (str(value),)
    if isinstance(value, float):
        return (str(int(value)),) if value.is_integer() else (repr(value),)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return ()
        # A long id is still checked (it has no band record, so it counts as unknown, which
        # the protective default treats as a minor's); only its number reading is skipped:
        # `int()` refuses strings of thousands of digits, and no account id is that long.
        out = [text] if text == value else [value, text]
        if len(text) <= MAX_ID_LENGTH:
            for number in numbers(text):
                if number not in out:
                    out.append(number)
        return tuple(out)
    if isinstance(value, dict):
        # `{"id": 5}` where the policy pointed at the object: the app's id field (every
        # value of it, when the key is written twice).
        inner = value.get("id")
        if isinstance(inner, DuplicateKey):
            return tuple(s for item in inner for s in spellings(item))
        return spellings(inner)
    return ()


def account_ids(values: Iterable[Any]) -> list[str]:
    """Distinct ids, in first-seen order."""
    seen: dict[str, None] = {}
    for value in values:
        # Most ids are plain words (`user-42`, a uuid's hex starts vary, handled below):
        # one spelling, no work.
        if type(value) is str and value and value[0] in PLAIN_FIRST and not value[-1].isspace():
            seen[value] = None
            continue
        for spelling in spellings(value):
            seen.setdefault(spelling, None)
    return list(seen)


def ids_at(document: Any, steps: tuple[object, ...]) -> list[str]:
    """The account ids a compiled JSON path reaches in `document` (one listed item, usually)."""
    if len(steps) == 1 and type(document) is dict:
        value = document.get(steps[0])
        if type(value) is str and value and value[0] in PLAIN_FIRST and not value[-1].isspace():
            return [value]
    return account_ids(walk(document, steps))
