"""Where a route's target accounts come from, compiled once per route.

A `TargetSource` from the policy becomes a `Extractor`: a small object that, given a
`RequestView`, yields raw values; `ids.account_ids` turns them into account ids.

A body may have several readings (`readings.py`): JSON sources read every JSON reading, form
sources every form field, and a field the app may take from either (`to`, `participants[*]`)
is read from both. A route whose action protects its target (`Targets.required`) refuses a
request in which no target can be read, or a target is written in a shape we cannot read.
Every route refuses a target whose id is longer than our tables keep (`TargetUnkept`).
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._callables import import_callable
from ..decide.ids import is_plain_id, keeps
from ..errors import ConfigurationError
from ..policy import model
from ..policy.jsonpath import WILDCARD, compile_path
from ..relations.lookup import Lookup
from .ids import account_ids, spellings
from .jsondoc import DuplicateKey, walk
from .request_view import NO_JSON, RequestView

# A SQL-resolved target with several candidate parameter values runs once per value;
# beyond this many combinations the request is refused rather than fanned out.
MAX_SQL_COMBINATIONS = 16

_ABSENT = object()


# What a lookup (SQL, callable) answers when it ran and named nobody: the targets were read,
# and there are none (a conversation with no one else in it). No account id has this spelling.
NOBODY = object()


class TooManyCombinations(Exception):
    pass


class TargetsUnread(Exception):
    """A route whose targets are required found none it could read (answered with 400)."""


class TargetUnkept(TargetsUnread):
    """A target whose id is longer than our tables keep (`decide.ids.keeps`), on any route
    and in any mode, like a body we cannot read: whatever we recorded of it would not be
    the account the app acts on, so it is as unreadable as a target in a shape no id reads."""


class Extractor:
    """One source of targets. `needs_json` / `needs_form` say whether the body must be read."""

    needs_json = False
    needs_form = False
    needs_io = False

    def values(self, view: RequestView) -> list[Any]:  # sync sources
        raise NotImplementedError

    async def avalues(self, view: RequestView) -> list[Any]:
        return self.values(view)


class PathSource(Extractor):
    def __init__(self, name: str) -> None:
        self.name = name

    def values(self, view: RequestView) -> list[Any]:
        value = view.path_params.get(self.name)
        return [] if value is None else [value]


class QuerySource(Extractor):
    def __init__(self, name: str) -> None:
        self.name = name

    def values(self, view: RequestView) -> list[Any]:
        return view.query_values(self.name)


class JsonSource(Extractor):
    needs_json = True

    def __init__(self, path: str) -> None:
        self.steps = compile_path(path)
        # The every-day shape, `{json: to}`: one key of the body's top-level object, read
        # with one `dict.get` instead of a walk.
        self.key = self.steps[0] if len(self.steps) == 1 and type(self.steps[0]) is str else None
        # `to` or `participants[*]`: a field an app with a form fallback reads from a form.
        first = self.steps[0] if self.steps else None
        simple = isinstance(first, str) and self.steps[1:] in ((), (WILDCARD,))
        self.form_names = _field_names(first) if simple and isinstance(first, str) else None

    def values(self, view: RequestView) -> list[Any]:
        document = view.json
        key = self.key
        if key is not None and type(document) is dict and view.form is None and not view.json_also:
            value = document.get(key, _ABSENT)
            if value is _ABSENT:
                return []
            kind = type(value)
            if kind is not DuplicateKey and kind is not list:
                return [value]
        found: list[Any] = []
        if document is not NO_JSON:
            found.extend(walk(document, self.steps))
            for other in view.json_also:
                found.extend(walk(other, self.steps))
        if self.form_names is not None and view.form:
            found.extend(v for k, v in view.form if k in self.form_names)
        return _flat(found)


class FormSource(Extractor):
    needs_form = True

    def __init__(self, name: str) -> None:
        self.names = _field_names(name)
        # An app with a JSON fallback reads the same field from a JSON body.
        self.json_key = (name[:-2] if name.endswith("[]") else name,)

    def values(self, view: RequestView) -> list[Any]:
        found: list[Any] = [v for k, v in (view.form or ()) if k in self.names]
        if view.json is not NO_JSON:
            for document in (view.json, *view.json_also):
                found.extend(walk(document, self.json_key))
            return _flat(found)
        return found


def _field_names(name: str) -> frozenset[str]:
    """`participants[]` and `participants` are the same field to most frameworks."""
    return frozenset({name, name + "[]"} if not name.endswith("[]") else {name, name[:-2]})


def _flat(values: list[Any]) -> list[Any]:
    """`values` with every list in it replaced by its items: `{"to": ["<id>"]}` names `<id>`
    to an app that takes one recipient or a list."""
    if not any(isinstance(v, list) for v in values):
        return values
    out: list[Any] = []
    pending = values[::-1]
    while pending:  # a loop, not recursion: a list may be nested as deep as the body is
        value = pending.pop()
        if isinstance(value, list):
            pending.extend(value[::-1])
        else:
            out.append(value)
    return out


def reference(spec: str) -> Callable[[RequestView], list[Any]]:
    """`path.X`, `query.X`, `json.X`, `form.X` or `actor`, as a function of the view: every
    value the request gives it, the way a target source reads it (every JSON reading of the
    body, and a form field of the same name). Compiled once, wherever the policy names a
    reference: lookup parameters, a contact response's answer, a report's text."""
    if spec == "actor":
        return lambda view: [] if view.actor is None else [view.actor]
    where, _, name = spec.partition(".")
    if where == "path" and name:
        return PathSource(name).values
    if where == "query" and name:
        return QuerySource(name).values
    if where == "json" and name:
        return JsonSource(name).values
    if where == "form" and name:
        return FormSource(name).values
    raise ConfigurationError(
        f"parameter reference {spec!r} must be `actor`, or `path.`, `query.`, `json.`, `form.` and a name"
    )


class SqlSource(Extractor):
    needs_io = True

    def __init__(self, lookup: Lookup, params: Mapping[str, str]) -> None:
        self.lookup = lookup
        self.json_paths = [compile_path(spec[5:]) for spec in params.values() if spec.startswith("json.")]
        self.params = {name: reference(spec) for name, spec in params.items()}
        self.needs_json = any(spec.startswith("json.") for spec in params.values())
        self.needs_form = any(spec.startswith("form.") for spec in params.values())

    async def avalues(self, view: RequestView) -> list[Any]:
        names = list(self.params)
        choices = [account_ids(self.params[name](view)) for name in names]
        if any(not c for c in choices):
            return []
        combos = list(itertools.islice(itertools.product(*choices), MAX_SQL_COMBINATIONS + 1))
        if len(combos) > MAX_SQL_COMBINATIONS:
            raise TooManyCombinations(self.lookup.name)
        found: list[Any] = []
        for combo in combos:
            found.extend(await self.lookup.ids(**dict(zip(names, combo, strict=True))))
        return found or [NOBODY]


class CallableSource(Extractor):
    needs_io = True
    # The callable may read anything: give it the parsed body.
    needs_json = True
    needs_form = True

    def __init__(self, spec: str) -> None:
        self.fn = import_callable(spec)

    async def avalues(self, view: RequestView) -> list[Any]:
        result = self.fn(view)
        if inspect.isawaitable(result):
            result = await result
        if result is None:
            return [NOBODY]
        if isinstance(result, (str, int)):
            return [result]
        return list(result) or [NOBODY]


def compile_source(source: model.TargetSource, lookups: Mapping[str, Lookup]) -> Extractor:
    if isinstance(source, model.PathTarget):
        return PathSource(source.path)
    if isinstance(source, model.QueryTarget):
        return QuerySource(source.query)
    if isinstance(source, model.JsonTarget):
        return JsonSource(source.json_)
    if isinstance(source, model.FormTarget):
        return FormSource(source.form)
    if isinstance(source, model.SqlTarget):
        if source.sql not in lookups:
            raise ConfigurationError(f"target query {source.sql!r} is not defined under `queries:`")
        return SqlSource(lookups[source.sql], source.params)
    return CallableSource(source.callable)


class Targets:
    """All of a route's sources together. `required`: a request in which no target can be
    read (or one is written in a shape we cannot read) raises TargetsUnread."""

    __slots__ = ("sources", "needs_json", "needs_form", "needs_io", "required")

    def __init__(self, sources: Sequence[Extractor], *, required: bool = False) -> None:
        self.sources = tuple(sources)
        self.required = required
        self.needs_json = any(s.needs_json for s in self.sources)
        self.needs_form = any(s.needs_form for s in self.sources)
        self.needs_io = any(s.needs_io for s in self.sources)

    def json_paths(self) -> list[tuple[object, ...]] | None:
        """Every JSON path the sources read; None when one may read anything (a callable)."""
        paths: list[tuple[object, ...]] = []
        for source in self.sources:
            if isinstance(source, CallableSource):
                return None
            if isinstance(source, JsonSource):
                paths.append(source.steps)
            elif isinstance(source, SqlSource):
                paths.extend(source.json_paths)
        return paths

    @property
    def needs_body(self) -> bool:
        return self.needs_json or self.needs_form

    async def extract(self, view: RequestView) -> list[str]:
        raw: list[Any] = []
        for source in self.sources:
            raw.extend(await source.avalues(view) if source.needs_io else source.values(view))
        if self.required and unread(raw):
            raise TargetsUnread()
        return kept([t for t in account_ids(v for v in raw if v is not NOBODY) if t != view.actor])

    def extract_now(self, view: RequestView) -> list[str]:
        """`extract` for routes whose sources need no I/O (check `needs_io` first)."""
        sources = self.sources
        if len(sources) == 1:
            raw = sources[0].values(view)
        else:
            raw = []
            for source in sources:
                raw.extend(source.values(view))
        actor = view.actor
        if len(raw) == 1 and is_plain_id(raw[0]) and keeps(raw[0]):
            return [] if raw[0] == actor else raw  # one plain id (`user-42`): its only spelling
        # One number (`{"to": 42}`) is read: no need to look at it again.
        if self.required and (len(raw) != 1 or type(raw[0]) is not int) and unread(raw):
            raise TargetsUnread()
        return kept([t for t in account_ids(raw) if t != actor])


def kept(accounts: list[str]) -> list[str]:
    """`accounts`, when our tables can keep every one of them; else TargetUnkept."""
    if not all(map(keeps, accounts)):
        raise TargetUnkept()
    return accounts


def unread(values: Sequence[Any]) -> bool:
    """Whether the values the sources found name no account, or name one in a shape no
    spelling of an id reads (a boolean, an object without `id`, which an app may still
    read as an account: `int(True)` is 1). `null` and an empty string name nobody."""
    named = False
    for value in values:
        kind = type(value)
        if kind is str:
            named = named or (not value.isspace() and value != "")
        elif kind is int or kind is float or value is NOBODY:
            named = True
        elif value is None:
            continue
        elif kind is dict and spellings(value):
            named = True
        else:
            return True
    return not named
