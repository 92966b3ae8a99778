"""Pydantic's validation errors, rewritten as reasons a person can act on.

Pydantic reports `('rules', 2, 'then')`, "Input should be 'allow', 'filter', ...". We
want "`then` must be one of allow, filter, redact, hide, deny; got 'block'" at the line
of `then:`. Two things need care:

- a union inserts a *tag* into the error location (`'PathTarget'`, `'str'`,
  `'tuple[str, ...]'`, or a discriminator value such as `'header'`). We walk the location
  alongside the model's types to tell tags from field names, so the path shown is the
  one the user wrote;
- a union that fails reports every member's errors. We keep the errors of the member the
  value was evidently meant to be (a list for the list member, a mapping for the model
  whose fields it uses), or say in one sentence what the value may be.
"""

from __future__ import annotations

import difflib
import enum
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Reason:
    path: Loc  # the location in the document, union tags removed
    reason: str


@dataclass(frozen=True, slots=True)
class _Step:
    segment: str | int
    is_tag: bool


def explain(model: type[BaseModel], data: Any, errors: Iterable[ErrorDetails]) -> list[Reason]:
    """One Reason per thing to fix, in the order pydantic found them."""
    # Group the errors of each failed union by where the union sits.
    sites: dict[Loc, dict[str, list[tuple[list[_Step], ErrorDetails]]]] = {}
    plain: list[Reason] = []
    for error in errors:
        steps = _walk(model, error["loc"])[0]
        tag_at = next((i for i, step in enumerate(steps) if step.is_tag), None)
        if tag_at is None:
            plain.append(_reason(model, _clean(steps), error))
            continue
        site = _clean(steps[:tag_at])
        tag = str(steps[tag_at].segment)
        sites.setdefault(site, {}).setdefault(tag, []).append((steps, error))
    for site, by_tag in sites.items():
        union = _type_at(model, site)
        value = _value_at(data, site)
        chosen = by_tag if len(by_tag) == 1 else _pick_member(union, value, by_tag)
        if chosen is None:
            plain.append(Reason(site, _union_reason(site, union, value)))
            continue
        for entries in chosen.values():
            for steps, error in entries:
                plain.append(_reason(model, _clean(steps), error))
    return plain


# --- walking a location alongside the model's types ---------------------------------------


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _members(tp: Any) -> list[Any] | None:
    """The non-None members of a union with two or more of them; None for anything else."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        members = [_unwrap(arg) for arg in typing.get_args(tp) if arg is not type(None)]
        return members if len(members) > 1 else None
    return None


def _optional_inner(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])
    return tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _field(model: type[BaseModel], name: str) -> Any:
    for field_name, info in model.model_fields.items():
        if name in (info.alias, field_name):
            return _unwrap(info.annotation)
    return None


def _member_for_tag(members: list[Any], tag: str) -> Any:
    if tag.startswith(("tuple[", "list[")):
        return next((m for m in members if typing.get_origin(m) in (tuple, list)), None)
    for member in members:
        if _is_model(member):
            if member.__name__ == tag:
                return member
            source = member.model_fields.get("source")
            if source is not None and tag in typing.get_args(source.annotation):
                return member
        if isinstance(member, type) and issubclass(member, enum.Enum) and "enum" in tag:
            return member
        if member is str and tag == "str":
            return member
    return None


def _walk(model: type[BaseModel], loc: Loc) -> tuple[list[_Step], Any]:
    tp: Any = model
    steps: list[_Step] = []
    for segment in loc:
        tp = _optional_inner(_unwrap(tp)) if tp is not None else None
        members = _members(tp) if tp is not None else None
        if members is not None and isinstance(segment, str):
            steps.append(_Step(segment, True))
            tp = _member_for_tag(members, segment)
            continue
        steps.append(_Step(segment, False))
        if tp is None:
            continue
        origin = typing.get_origin(tp)
        if _is_model(tp) and isinstance(segment, str):
            tp = _field(tp, segment)
        elif origin in (tuple, list) and isinstance(segment, int):
            args = typing.get_args(tp)
            tp = args[0] if len(args) == 2 and args[1] is Ellipsis else (
                args[segment] if segment < len(args) else None
            )
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        else:
            tp = None
    return steps, (_optional_inner(_unwrap(tp)) if tp is not None else None)


def _clean(steps: list[_Step]) -> Loc:
    return tuple(step.segment for step in steps if not step.is_tag)


def _type_at(model: type[BaseModel], path: Loc) -> Any:
    return _walk(model, path)[1]


def _value_at(data: Any, path: Loc) -> Any:
    for step in path:
        if isinstance(data, dict) and isinstance(step, str):
            data = data.get(step)
        elif isinstance(data, list) and isinstance(step, int) and 0 <= step < len(data):
            data = data[step]
        else:
            return None
    return data


# --- failed unions --------------------------------------------------------------------------


def _pick_member(union: Any, value: Any, by_tag: dict[str, list[Any]]) -> dict[str, list[Any]] | None:
    members = _members(union) or []
    tagged = {tag: _member_for_tag(members, tag) for tag in by_tag}
    if isinstance(value, list):
        fits = [t for t, m in tagged.items() if typing.get_origin(m) in (tuple, list)]
    elif isinstance(value, dict):
        scores = {t: len(set(value) & _field_names(m)) for t, m in tagged.items() if _is_model(m)}
        best = max(scores.values(), default=0)
        fits = [t for t, score in scores.items() if score == best and best > 0]
    else:
        fits = [t for t, m in tagged.items() if not _is_model(m) and typing.get_origin(m) not in (tuple, list)]
    if len(fits) == 1:
        return {fits[0]: by_tag[fits[0]]}
    return None


def _field_names(model: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()}


def _union_reason(site: Loc, union: Any, value: Any) -> str:
    members = _members(union) or []
    name = _name(site)
    if members and all(_is_model(m) for m in members):
        keys = [_first_required(m) for m in members]
        return (
            f"{name} must be a mapping with exactly one of {', '.join(keys)}; "
            f"got {_describe(value)}"
        )
    kinds = " or ".join(_describe_type(m) for m in members)
    return f"{name} must be {kinds}; got {_describe(value)}"


def _first_required(model: type[BaseModel]) -> str:
    for name, info in model.model_fields.items():
        if info.is_required():
            return f"`{info.alias or name}`"
    return model.__name__


def _describe_type(tp: Any) -> str:
    tp = _unwrap(tp)
    if tp is str:
        return "text"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(str(m.value) for m in tp)
    if typing.get_origin(tp) in (tuple, list):
        args = typing.get_args(tp)
        return f"a list of {_describe_type(args[0])}" if args else "a list"
    if _is_model(tp):
        return "a mapping"
    return getattr(tp, "__name__", str(tp))


# --- one error, one sentence -----------------------------------------------------------------


def _name(path: Loc) -> str:
    """How to call the value at `path` in a sentence: "`then`", "each entry of `rules`"."""
    for step in reversed(path):
        if isinstance(step, str):
            return f"`{step}`" if step == path[-1] else f"each entry of `{step}`"
    return "the policy" if not path else "each entry"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57] + "...")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        keys = ", ".join(str(k) for k in list(value)[:6])
        return f"a mapping (keys: {keys})" if value else "an empty mapping"
    return type(value).__name__


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _quoted_choices(expected: str) -> str:
    return ", ".join(re.findall(r"'([^']*)'", expected)) or expected


_PATTERNS = {
    r"^[a-z0-9][a-z0-9_.-]*$": "lower-case letters, digits, `_`, `.` and `-`, starting with a letter or digit",
    r"^\d+[smhd]$": "a whole number and a unit: s, m, h or d (e.g. 30m, 24h, 7d)",
}


def _reason(model: type[BaseModel], path: Loc, error: ErrorDetails) -> Reason:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    name = _name(path)
    got = _describe(value)
    hint = ""
    if isinstance(value, bool | int | float) and kind in ("string_type", "literal_error", "enum"):
        hint = " (YAML reads unquoted yes/no/on/off/true/false and numbers as such: quote it)"
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML 1.1 allows `_` in numbers: an unquoted band `13_15` arrives as 1315.
            for choice in re.findall(r"'([^']*)'", str(ctx.get("expected", ""))) or ["13_15", "16_17"]:
                if choice.replace("_", "").isdigit() and int(choice.replace("_", "")) == value:
                    hint = f" (YAML reads an unquoted {choice} as the number {value}: write \"{choice}\")"
    if kind == "missing":
        return Reason(path, f"{name} is required")
    if kind == "extra_forbidden":
        return Reason(path, f"unknown key {name}{_did_you_mean(model, path)}")
    if kind in ("enum", "literal_error"):
        choices = _quoted_choices(str(ctx.get("expected", "")))
        return Reason(path, f"{name} must be one of {choices}; got {got}{hint}")
    if kind == "string_type":
        return Reason(path, f"{name} must be text; got {got}{hint}")
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        wanted = _PATTERNS.get(pattern, f"text matching {pattern}")
        return Reason(path, f"{name} must be {wanted}; got {got}")
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return Reason(path, f"{name} must be a whole number; got {got}")
    if kind in ("float_type", "float_parsing", "finite_number"):
        return Reason(path, f"{name} must be a number; got {got}")
    if kind in ("bool_type", "bool_parsing"):
        return Reason(path, f"{name} must be true or false; got {got}")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        words = {
            "greater_than": ("more than", "gt"),
            "greater_than_equal": ("at least", "ge"),
            "less_than": ("less than", "lt"),
            "less_than_equal": ("at most", "le"),
        }[kind]
        return Reason(path, f"{name} must be {words[0]} {_number(ctx.get(words[1]))}; got {got}")
    if kind in ("too_short", "too_long"):
        bound = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        word = "at least" if kind == "too_short" else "at most"
        return Reason(path, f"{name} needs {word} {bound} entr{'y' if bound == 1 else 'ies'}")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return Reason(path, f"{name} must be a mapping; got {got}")
    if kind in ("tuple_type", "list_type", "iterable_type"):
        return Reason(path, f"{name} must be a list; got {got}")
    if kind == "union_tag_invalid":
        choices = _quoted_choices(str(ctx.get("expected_tags", "")))
        tag = ctx.get("tag")
        return Reason((*path, "source"), f"`source` must be one of {choices}; got {tag!r}")
    if kind == "union_tag_not_found":
        return Reason(path, f"{name} needs a `source` (which kind of source it is)")
    if kind == "value_error":
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        return Reason(path, f"{name}: {message}" if path else message)
    return Reason(path, f"{name}: {error.get('msg', kind)}; got {got}")


def _did_you_mean(model: type[BaseModel], path: Loc) -> str:
    if not path or not isinstance(path[-1], str):
        return ""
    close = difflib.get_close_matches(path[-1], _known_keys(model, path[:-1]), n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _known_keys(model: type[BaseModel], path: Loc) -> list[str]:
    """The keys that exist at `path` (every member's, for a union)."""
    tp = _type_at(model, path)
    members = _members(tp)
    if members is not None:
        names: list[str] = []
        for member in members:
            if _is_model(member):
                names.extend(sorted(_field_names(member)))
        return names
    return sorted(_field_names(tp)) if _is_model(tp) else []
