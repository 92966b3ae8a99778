"""Account ids as the policy sees them: strings, whatever shape the request wrote them in.

`36`, `36.0`, `"36"`, `" 36 "`, `"036"`, `"+36.0"`, `"3_6"`, `"３６"` and `true` (as 1) may
all reach a typed handler as one account: Python's `int()` reads any script's digits and
`_` between them, pydantic's lax `int` reads a fraction of zeros and a JSON `true`, and a
handler that goes through `float()` reads an exponent. Every spelling that an app could
read as the same account yields its canonical form as well, so no spelling of an id
escapes a rule (over-inclusion only ever adds a protected check). `canonical` says which
spellings are one account, so that what is recorded and counted is recorded once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from .jsondoc import DuplicateKey, walk

MAX_ID_LENGTH = 255

# What a number may be written with: a sign, digits of any script (as `int()` and `float()`
# read them), `_`, a point and an exponent. Anything else is not tried as a number: parsing
# it three ways to fail three times would cost more than the match.
_number_like = re.compile(r"[+-]?[\d_]*(?:\.[\d_]*)?(?:[eE][+-]?[\d_]+)?").fullmatch
_ASCII_DIGITS = "0123456789"
_NUMBER_MARKS = frozenset("+-_.eE")  # what may follow a number's leading digits
# A float past this has more digits than an id may have.
_FLOAT_LIMIT = 10.0**MAX_ID_LENGTH


def _numbers(text: str) -> list[str]:
    """The integers (as canonical strings, exact reading first) that an app could read
    `text` (stripped, at most `MAX_ID_LENGTH` long) as; none when it is no number."""
    if text.isdigit() and text.isascii():
        # The every-day numeric id; it is its own canonical form unless zero-padded.
        return [text if text[0] != "0" or len(text) == 1 else str(int(text))]
    after = text.lstrip(_ASCII_DIGITS)[0]  # not all ASCII digits: something follows
    if after not in _NUMBER_MARKS and not after.isdigit():
        return []  # `3f2a…`: a letter after the digits, so no number (and no regex run)
    found = _python_readings(text) if _number_like(text) else []
    if found or text[0] not in "+0":
        return found
    # pydantic drops a `+`, then leading zeros and `_`, before it reads the rest (a sign
    # included): `0__36` is 36 to it, and `0-36` is -36.
    rest = (text[1:] if text[0] == "+" else text).lstrip("0_")
    if rest[:1] == "-":
        rest = "-" + rest[1:].lstrip("_")
    if rest in ("", "-"):
        return ["0"]
    return _numbers(rest) if rest[0] not in "+0" else []


def _python_readings(text: str) -> list[str]:
    """`int(text)`, or the exact and the `float()` readings of a number with a point or an
    exponent, when they are integers."""
    try:
        return [str(int(text))]  # sign, `_` between digits, any script's digits
    except ValueError:
        pass
    try:
        approximate = float(text)  # Python's number syntax: what it accepts is a number
    except ValueError:
        return []
    out: list[str] = []
    exact = Decimal(text.replace("_", ""))
    if exact.is_finite() and exact.adjusted() < MAX_ID_LENGTH and exact == exact.to_integral_value():
        out.append(str(int(exact)))  # `36.0`, `+036.000`, `3.6e1`: pydantic's reading
    if math.isfinite(approximate) and approximate.is_integer() and abs(approximate) < _FLOAT_LIMIT:
        # `int(float(text))`: the same number, except where a float cannot hold the digits
        # (`36.00000000000000001`, or past 2**53).
        rounded = str(int(approximate))
        if rounded not in out:
            out.append(rounded)
    return out


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
            for number in _numbers(text):
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


# How a plain id starts: a letter or `_`, never a sign, digit or space an app might trim or
# read as a number. Inlined as `v[0] in PLAIN_FIRST` where a loop runs per listed account.
PLAIN_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")


def is_plain_id(value: Any) -> bool:
    """A string no app could read as another account (no sign, digit or space to trim): its
    only spelling is itself. Most ids (`user-42`) are; the check is a few comparisons."""
    return type(value) is str and value != "" and value[0] in PLAIN_FIRST and not value[-1].isspace()


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
        value = document.get(steps[0])  # type: ignore[call-overload]
        if type(value) is str and value and value[0] in PLAIN_FIRST and not value[-1].isspace():
            return [value]
    return account_ids(walk(document, steps))


def canonical(account: str) -> str:
    """The spelling that stands for every spelling of the same account (the key records and
    counts are written under): the number an app reads it as, exact reading first, else the
    id without surrounding spaces. `canonical(s)` is the same for every `s` in
    `spellings(v)` that shares a reading, so grouping spellings by it groups one account."""
    if account and account[0] in PLAIN_FIRST and not account[-1].isspace():
        return account
    if account.isdigit() and account.isascii() and (account[0] != "0" or len(account) == 1):
        return account  # a number as the app writes it
    text = account.strip()
    if not text:
        return account
    if len(text) <= MAX_ID_LENGTH:
        numbers = _numbers(text)
        if numbers:
            return numbers[0]
    return text
