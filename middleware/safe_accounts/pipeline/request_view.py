"""What target sources read: one request's path parameters, query, and parsed body.

The body may have several readings (`readings.py`): `json` is the first JSON reading,
`json_also` the others (another charset gave another document), and `form` every field of
every form reading.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from .._types import Scope
from .body import Body
from .jsondoc import TooDeep, read_json

NO_JSON = object()
_OPENERS = (b"{", b"[")


class BodyNotParsed(Exception):
    """The body claims a type we inspect but cannot be parsed: the app may read it differently."""


@dataclass(slots=True)
class RequestView:
    method: str
    path: str
    path_params: dict[str, str]
    query: list[tuple[str, str]]
    actor: str | None
    json: Any = NO_JSON
    form: list[tuple[str, str]] | None = None
    json_also: tuple[Any, ...] = ()

    @classmethod
    def of(cls, scope: Scope, params: dict[str, str], actor: str | None) -> RequestView:
        """The view of an HTTP request or a WebSocket handshake (method `WEBSOCKET`)."""
        method = "WEBSOCKET" if scope["type"] == "websocket" else scope.get("method", "GET")
        return cls(method, scope.get("path", ""), params, parse_query(scope.get("query_string", b"")), actor)

    def query_values(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name]

    def form_values(self, name: str) -> list[str]:
        return [v for k, v in (self.form or ()) if k == name]


def parse_query(query_string: bytes) -> list[tuple[str, str]]:
    if not query_string:
        return []
    return parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)


def parse_json(body: Body, keys: tuple[str, ...] | None = None) -> Any:
    """A body typed exactly `application/json` (no charset), read the way `json.loads(bytes)`
    (and so Starlette's `Request.json()`) reads it: UTF-8 with or without BOM, UTF-16,
    UTF-32, told apart by the first bytes. Other bodies: `readings.read_every_way`.
    `keys`: see `jsondoc.read_json`."""
    data = body.inspectable
    if data[:1] in _OPENERS and (len(data) < 2 or data[1]):
        # What `json.detect_encoding` answers for a body opening with `{` or `[` and no
        # NUL after it (the every-day case), without asking it.
        encoding = "utf-8"
    else:
        encoding = json.detect_encoding(data)
    try:
        return read_json(data.decode(encoding), keys)
    except TooDeep as exc:
        raise BodyNotParsed("the JSON is nested too deeply to check") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyNotParsed("body is not valid JSON") from exc


def is_json(media_type: str) -> bool:
    """`media_type` lower-cased, as `body.Body` holds it."""
    return media_type == "application/json" or media_type.endswith("+json")
