"""Reading request fields the same way for JSON bodies and HTML forms.

Ids arrive as numbers from JSON clients and as strings from forms, so both are
accepted; anything else is a 422 naming the field.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from .problems import Problem, bad_request, invalid

MAX_ID = 2**31 - 1  # the accounts.id column is a 32-bit integer on PostgreSQL
MAX_BODY = 64 * 1024


async def json_object(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise Problem(413, "Body too large", f"the body is larger than {MAX_BODY} bytes")
    if not body.strip():
        return {}  # e.g. POST .../accept: everything is in the path
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise invalid("the body must be a JSON object")
    return data


async def form_fields(request: Request) -> dict[str, Any]:
    """Form fields as a dict; a repeated field becomes a list (group participants)."""
    form = await request.form()
    try:
        fields: dict[str, Any] = {}
        for key in form:
            values = [v for v in form.getlist(key) if isinstance(v, str)]
            fields[key] = values if len(values) > 1 else (values[0] if values else None)
        return fields
    finally:
        await form.close()


def account_id(data: dict[str, Any], field: str) -> int:
    return parse_id(data.get(field), field)


def parse_id(value: Any, field: str) -> int:
    if isinstance(value, bool):
        value = None  # True is an int in Python, never an id
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and 0 < value <= MAX_ID:
        return value
    if value is None:
        raise invalid(f"`{field}` is required: an account id (a number)")
    raise invalid(f"`{field}` must be an account id (a positive number), not {value!r}")


def id_list(data: dict[str, Any], field: str) -> list[int]:
    value = data.get(field)
    if value is None or value == "":
        return []
    if not isinstance(value, list):
        value = [value]
    return [parse_id(v, f"{field}[{i}]") for i, v in enumerate(value)]


def text(data: dict[str, Any], field: str, *, max_length: int, required: bool = True) -> str:
    value = data.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise invalid(f"`{field}` is required")
        return ""
    if not isinstance(value, str):
        raise invalid(f"`{field}` must be text")
    value = value.strip()
    if len(value) > max_length:
        raise invalid(f"`{field}` is longer than {max_length} characters")
    return value
