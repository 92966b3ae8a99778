"""Every way a plausible app reads a request body, for bodies that are not plain JSON.

Apps disagree on what a body is. Starlette reads the media type case-insensitively, a
hand-written app compares it case-sensitively and falls back to a form or to JSON; one app
honours a declared charset, `json.loads(bytes)` (Starlette's `Request.json()`, FastAPI,
Flask, Django) ignores it and tells UTF-8, -16 and -32 apart by the first bytes. Whatever
reading the app picks, its targets must be among ours, so a body is read as JSON whatever
its declared type and charset, and as a urlencoded form, and the targets are the union of
the readings. A body typed exactly `application/json` is read once (`request_view.parse_json`):
no framework reads it any other way. A body sent with a content coding is read decoded (as
an app that undoes the coding reads it) and as sent (as every framework reads it).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from .body import Body
from .jsondoc import TooDeep, read_json
from .request_view import NO_JSON, BodyNotParsed, is_json

_UTF8 = frozenset({"utf-8", "utf8"})
_PROBE = "to=a%20b&c=d"


def read_every_way(
    body: Body, keys: tuple[str, ...] | None
) -> tuple[Any, tuple[Any, ...], list[tuple[str, str]]]:
    """(the first JSON reading or NO_JSON, the other JSON readings, every form field of every
    form reading). Raises BodyNotParsed when a body typed as JSON has no JSON reading, or
    when any reading finds JSON too deep to read."""
    documents = json_readings(body, keys)
    if not documents and is_json(body.content_type):
        raise BodyNotParsed("body is not valid JSON")
    first = documents[0] if documents else NO_JSON
    return first, tuple(documents[1:]), form_readings(body)


def read_as_sent(body: Body, keys: tuple[str, ...] | None) -> tuple[list[Any], list[tuple[str, str]]]:
    """A coded body's bytes as they were sent, read as JSON and as a form: what an app that
    does not undo the coding reads (Starlette, FastAPI, Django and Litestar never do), and
    where a field written outside the compressed data (in a gzip header's file name) is.
    Neither reading is required to succeed: the bytes are compressed data, and an app that
    cannot read them acts on nothing."""
    sent = body._replace(inspectable=body.raw)
    return json_readings(sent, keys), form_readings(sent)


def json_readings(body: Body, keys: tuple[str, ...] | None) -> list[Any]:
    """The body as JSON in the declared charset and in the one `json.loads(bytes)` detects
    (distinct texts only); those that parse."""
    data = body.inspectable
    encodings: list[str] = [json.detect_encoding(data)]
    if body.charset and body.charset not in encodings:
        encodings.insert(0, body.charset)  # a charset-honouring app reads this first
    texts: list[str] = []
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue  # an app reading it this way fails too
        if text not in texts:
            texts.append(text)
    documents: list[Any] = []
    for text in texts:
        try:
            documents.append(read_json(text, keys))
        except TooDeep as exc:
            # Valid JSON, perhaps, that we could not read: the app's parser might.
            raise BodyNotParsed("the JSON is nested too deeply to check") from exc
        except ValueError:
            continue
    return documents


def form_readings(body: Body) -> list[tuple[str, str]]:
    """Every field of the body read as `application/x-www-form-urlencoded`: the bytes as
    Starlette reads them (Latin-1, `%`-escapes as UTF-8), as UTF-8, and in the declared
    charset (escapes too); each distinct field once."""
    data = body.inspectable
    declared = body.charset
    readings = [("latin-1", "utf-8")]
    if not data.isascii():
        readings.append(("utf-8", "utf-8"))
    if declared and declared not in _UTF8 and (not data.isascii() or b"%" in data or not _ascii_compatible(declared)):
        readings.append((declared, declared))
    if len(readings) == 1:
        return parse_qsl(data.decode("latin-1"), keep_blank_values=True)
    fields: dict[tuple[str, str], None] = {}
    for text_encoding, escape_encoding in readings:
        try:
            text = data.decode(text_encoding)
            pairs = parse_qsl(text, keep_blank_values=True, encoding=escape_encoding, errors="replace")
        except (LookupError, UnicodeDecodeError):
            continue
        fields.update(dict.fromkeys(pairs))
    return list(fields)


@lru_cache(maxsize=64)
def _ascii_compatible(charset: str) -> bool:
    """Whether a form in `charset` reads like ASCII (Latin-1, Windows-1252...: yes; UTF-16: no)."""
    try:
        return _PROBE.encode(charset) == _PROBE.encode("ascii")
    except (LookupError, UnicodeError):
        return False


# What a part may say of its transfer encoding, and the charsets its text may be in, and still
# be the same text to every parser (Starlette decodes a part in the request's charset, Litestar
# in the part's own, Django in the request's).
_IDENTITY_TRANSFER = frozenset({b"7bit", b"8bit", b"binary"})
_UTF8_TEXT = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
# A parameter of a part's `Content-Disposition` as browsers write it (RFC 7578): a token, `=`,
# and a token or a quoted string with no quote or backslash in it. Only this shape reads alike:
# Litestar stops a bare value at the first character outside a token (`name=to,` is `to` to
# it, `to,` to Starlette) and turns `%22` into a quote, and Django takes `name*=` over `name`.
_TOKEN = rb"[\w!#$%&'*+\-.^_`|~]+"
_PARAM = re.compile(rb'[ \t]*;[ \t]*(' + _TOKEN + rb')=(' + _TOKEN + rb'|"[^"\\]*")[ \t]*', re.ASCII)
_CHARSET = re.compile(rb';[ \t]*charset[ \t]*=[ \t]*"?([^";]*)', re.ASCII | re.IGNORECASE)


def multipart_part_read_otherwise(data: bytes, boundary: bytes, charset: str | None) -> str | None:
    """Why some part of a multipart body could read differently to another framework than
    to Starlette's parser (ours), or None: what we cannot read as they do, we refuse.

    Django decodes a part sent with `Content-Transfer-Encoding: base64` and names a part by
    `name*=UTF-8''to` over `name`; Litestar reads a bare name up to its first character
    outside a token and decodes a part in the charset of its own `Content-Type`, ignoring the
    request's. Browsers write none of these. Every block after a delimiter is looked at: a
    block that is no part's headers only ever refuses more."""
    if charset is not None and charset not in _UTF8_TEXT:
        return "a multipart body in a charset other than UTF-8"
    for block in data.split(b"--" + boundary)[1:]:
        dispositions = 0
        for line in block.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
            name, colon, value = line.partition(b":")
            if not colon:
                continue
            name = name.strip().lower()
            if name == b"content-transfer-encoding" and value.strip().lower() not in _IDENTITY_TRANSFER:
                return "a multipart part in a transfer encoding"
            if name == b"content-type":
                found = _CHARSET.search(value)
                if found and found.group(1).strip().decode("latin-1").lower() not in _UTF8_TEXT:
                    return "a multipart part in a charset other than UTF-8"
            if name == b"content-disposition":
                dispositions += 1
                if dispositions > 1 or not _plain_disposition(value):
                    return "a multipart part whose name other parsers may read otherwise"
    return None


def _plain_name(written: bytes) -> bool:
    """A name every parser reads as written: Django strips spaces around it, Litestar reads
    `%22` as a quote."""
    name = written[1:-1] if written[:1] == b'"' else written
    return name == name.strip() and b"%22" not in name


def _plain_disposition(value: bytes) -> bool:
    """`form-data` and parameters as browsers write them, each once, none extended (`*`),
    the name read alike by every parser (`_plain_name`)."""
    kind, _, _ = value.partition(b";")
    if kind.strip().lower() != b"form-data":
        return False
    rest = value[len(kind):]
    seen: set[bytes] = set()
    at = 0
    while at < len(rest):
        param = _PARAM.match(rest, at)
        if param is None:
            return rest[at:].strip() in (b"", b";")
        key = param.group(1).lower()
        if key.endswith(b"*") or key in seen or (key == b"name" and not _plain_name(param.group(2))):
            return False
        seen.add(key)
        at = param.end()
    return True
