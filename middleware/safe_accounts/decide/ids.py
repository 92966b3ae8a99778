"""One account, many spellings: which ids an app reads as the same account.

`36`, `"036"`, `"+36.0"`, `"3_6"` and `"３６"` may all reach a typed handler as account 36:
Python's `int()` reads any script's digits and `_` between them, pydantic's lax `int` reads
a fraction of zeros, and a handler that goes through `float()` reads an exponent.
`numbers` gives the integers a spelling reads as; `canonical` the one spelling that stands
for all of them, so that a decision judges, and the records count, an account once however
the request wrote it. Reading ids out of a request is the pipeline's (`pipeline/ids.py`).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

from ..db.metadata import ACCOUNT_ID_LENGTH

# No account id is longer than our tables keep: a longer one a request supplies is refused
# (`keeps`), so no reading of one as a number is ever needed either.
MAX_ID_LENGTH = ACCOUNT_ID_LENGTH

# What a number may be written with: a sign, digits of any script (as `int()` and `float()`
# read them), `_`, a point and an exponent. Anything else is not tried as a number: parsing
# it three ways to fail three times would cost more than the match.
_number_like = re.compile(r"[+-]?[\d_]*(?:\.[\d_]*)?(?:[eE][+-]?[\d_]+)?").fullmatch
_ASCII_DIGITS = "0123456789"
_NUMBER_MARKS = frozenset("+-_.eE")  # what may follow a number's leading digits
# A float past this has more digits than an id may have.
_FLOAT_LIMIT = 10.0**MAX_ID_LENGTH


def numbers(text: str) -> list[str]:
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
    return numbers(rest) if rest[0] not in "+0" else []


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


# How a plain id starts: a letter or `_`, never a sign, digit or space an app might trim or
# read as a number. Inlined as `v[0] in PLAIN_FIRST` where a loop runs per listed account.
PLAIN_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")


def is_plain_id(value: Any) -> bool:
    """A string no app could read as another account (no sign, digit or space to trim): its
    only spelling is itself. Most ids (`user-42`) are; the check is a few comparisons."""
    return type(value) is str and value != "" and value[0] in PLAIN_FIRST and not value[-1].isspace()


def keeps(account: str | None) -> bool:
    """Whether our tables can keep `account` exactly (anonymous: nothing to keep). An id a
    request supplies that they cannot is refused before any store is read: cut, it would
    be another account's key (a restriction, a count, a case), and whole, PostgreSQL
    refuses to write it."""
    return account is None or len(account) <= MAX_ID_LENGTH


def canonical(account: str) -> str:
    """The spelling that stands for every spelling of the same account (the key records and
    counts are written under): the number an app reads it as, exact reading first, else the
    id without surrounding spaces. `canonical(s)` is the same for every `s` that
    `pipeline.ids.spellings(v)` gives of one reading, so grouping spellings by it groups one
    account."""
    if account and account[0] in PLAIN_FIRST and not account[-1].isspace():
        return account
    if account.isdigit() and account.isascii() and (account[0] != "0" or len(account) == 1):
        return account  # a number as the app writes it
    text = account.strip()
    if not text:
        return account
    if len(text) <= MAX_ID_LENGTH:
        found = numbers(text)
        if found:
            return found[0]
    return text
