"""Hypothesis strategies: the many ways a client can write the same request.

Ids the app reads as one account (`int_spellings`, `path_int_spellings`, checked against
pydantic itself, the app's own reader), `Accept-Encoding` headers, `Content-Type` headers,
JSON texts (duplicate keys, escapes, whitespace) and the bytes they are sent in (UTF-8 with
or without a BOM, UTF-16, UTF-32), and urlencoded forms.
"""

from __future__ import annotations

import json
from urllib.parse import quote, unquote

from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from .harness import Header, header

_INT = TypeAdapter(int)


def reads_as(value_json: str, number: int) -> bool:
    """Whether pydantic, as the app's `int` field, reads this JSON value as `number`."""
    try:
        return _INT.validate_json(value_json) == number
    except ValidationError:
        return False


@st.composite
def _digit_text(draw: st.DrawFn, number: int) -> str:
    """`number` as text a lax int parser reads: sign, leading zeros, `_`, a zero fraction, blanks."""
    digits = str(number)
    if len(digits) > 1 and draw(st.booleans()):
        cut = draw(st.integers(1, len(digits) - 1))
        digits = digits[:cut] + "_" + digits[cut:]
    text = draw(st.sampled_from(["", "+"])) + "0" * draw(st.integers(0, 3)) + digits
    text += draw(st.sampled_from(["", "", ".0", ".00", ".000"]))
    blanks = st.sampled_from(["", "", " ", "  ", "\t", "\n", "\u00a0"])
    return draw(blanks) + text + draw(blanks)


def _escape_some(draw: st.DrawFn, text: str) -> str:
    """A JSON string literal of `text`, with some characters written as `\\uXXXX`."""
    body = json.dumps(text)[1:-1]
    if body and draw(st.booleans()):
        index = draw(st.integers(0, len(text) - 1))
        char = text[index]
        if char.isalnum():
            body = json.dumps(text[:index])[1:-1] + f"\\u{ord(char):04x}" + json.dumps(text[index + 1:])[1:-1]
    return f'"{body}"'


@st.composite
def _int_json(draw: st.DrawFn, number: int) -> str:
    form = draw(st.sampled_from(["number", "fraction", "exponent", "string"]))
    if form == "number":
        return str(number)
    if form == "fraction":
        return f"{number}." + "0" * draw(st.integers(1, 3))
    if form == "exponent":
        shift = draw(st.integers(1, 3))
        return f"{number}{'0' * shift}e-{shift}"
    return _escape_some(draw, draw(_digit_text(number)))


def int_spellings(number: int) -> st.SearchStrategy[str]:
    """JSON value texts (`7001`, `7001.0`, `70010e-1`, `"07001"`, `" +7_001 "`) that the
    app's pydantic `int` reads as `number`."""
    return _int_json(number).filter(lambda text: reads_as(text, number))


@st.composite
def _path_int(draw: st.DrawFn, number: int) -> str:
    text = draw(_digit_text(number))
    safe = draw(st.sampled_from(["+_.", "_.", "+._0123456789"]))
    raw = quote(text, safe=safe)
    if draw(st.booleans()):  # one digit percent-encoded, as some clients do
        index = draw(st.integers(0, len(raw) - 1))
        if raw[index].isdigit():
            raw = raw[:index] + f"%{ord(raw[index]):02X}" + raw[index + 1:]
    return raw


def path_int_spellings(number: int) -> st.SearchStrategy[str]:
    """Path segments as a client sends them (`07001`, `%2B7001`, `7001.0`, `%207001`) that the
    app's `user_id: int` reads as `number`."""
    return _path_int(number).filter(lambda raw: reads_as(json.dumps(unquote(raw)), number))


_CODINGS = [
    "gzip", "GZIP", "Gzip", "x-gzip", "deflate", "DEFLATE", "Deflate", "*", "br", "zstd", "identity", "compress"
]
_Q = ["", "", ";q=1", ";q=1.0", ";q=0.5", ";q=0", " ; q=0.8"]


@st.composite
def accept_encodings(draw: st.DrawFn) -> tuple[Header, ...]:
    """One or two `Accept-Encoding` headers, each a list of codings with optional weights."""
    values = []
    for _ in range(draw(st.integers(1, 2))):
        codings = draw(st.lists(st.tuples(st.sampled_from(_CODINGS), st.sampled_from(_Q)), min_size=1, max_size=3))
        separator = draw(st.sampled_from([",", ", ", " , "]))
        values.append(separator.join(c + q for c, q in codings))
    return tuple(header("accept-encoding", v) for v in values)


CONTENT_TYPES = [
    "application/json", "Application/JSON", "APPLICATION/JSON", "application/json; charset=utf-8",
    "application/json;charset=UTF-16", "application/json ; charset=latin-1", "application/vnd.api+json",
    "text/plain", "text/plain; charset=utf-16", "text/plain; charset=utf-32", "text/json",
    "application/x-www-form-urlencoded", "Application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-16", "multipart/form-data; boundary=xyz",
    "application/octet-stream", "", "*/*", "application/jsonx",
]


@st.composite
def content_types(draw: st.DrawFn) -> tuple[Header, ...]:
    """No `Content-Type`, one, or two of them (a case-sensitive app reads the first)."""
    count = draw(st.sampled_from([0, 1, 1, 1, 2]))
    return tuple(header("content-type", draw(st.sampled_from(CONTENT_TYPES))) for _ in range(count))


ENCODINGS = ["utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"]


def encoded(text: str, encoding: str) -> bytes:
    return text.encode(encoding)


@st.composite
def json_object(draw: st.DrawFn, members: list[tuple[str, str]]) -> str:
    """A JSON object text of (key, value-JSON) members, in the given order (duplicates kept),
    keys sometimes escaped, with any JSON whitespace between tokens."""
    space = st.sampled_from(["", " ", "\n", "\t ", "\r\n"])
    parts = []
    for key, value in members:
        key_text = _escape_some(draw, key)
        parts.append(f"{draw(space)}{key_text}{draw(space)}:{draw(space)}{value}{draw(space)}")
    return "{" + ",".join(parts) + "}"


@st.composite
def string_value(draw: st.DrawFn, text: str) -> str:
    return _escape_some(draw, text)
