"""Where a route's target accounts come from, compiled once per route.

A `TargetSource` from the policy becomes a `Extractor`: a small object that, given a
`RequestView`, yields raw values; `ids.account_ids` turns them into account ids.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..errors import ConfigurationError
from ..policy import model
from ..relations.lookup import Lookup, import_callable
from .ids import account_ids, is_plain_id
from .jsondoc import DuplicateKey, walk
from ..policy.jsonpath import compile_path
from .request_view import NO_JSON, RequestView

# A SQL-resolved target with several candidate parameter values runs once per value;
# beyond this many combinations the request is refused rather than fanned out.
MAX_SQL_COMBINATIONS = 16

_ABSENT = object()


class TooManyCombinations(Exception):
    pass


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

    def values(self, view: RequestView) -> list[Any]:
        document = view.json
        if document is NO_JSON:
            return []
        if self.key is not None and type(document) is dict:
            value = document.get(self.key, _ABSENT)
            if value is _ABSENT:
                return []
            if type(value) is not DuplicateKey:
                return [value]
        return list(walk(document, self.steps))


class FormSource(Extractor):
    needs_form = True

    def __init__(self, name: str) -> None:
        # `participants[]` and `participants` are the same field to most frameworks.
        self.names = {name, name + "[]"} if not name.endswith("[]") else {name, name[:-2]}

    def values(self, view: RequestView) -> list[Any]:
        return [v for k, v in (view.form or ()) if k in self.names]


def _reference(spec: str) -> Callable[[RequestView], list[Any]]:
    """`path.X`, `query.X`, `json.X`, `form.X` or `actor`, as a function of the view."""
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
        self.params = {name: _reference(spec) for name, spec in params.items()}
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
        return found


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
            return []
        if isinstance(result, (str, int)):
            return [result]
        return list(result)


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
    """All of a route's sources together."""

    __slots__ = ("sources", "needs_json", "needs_form", "needs_io")

    def __init__(self, sources: Sequence[Extractor]) -> None:
        self.sources = tuple(sources)
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
        return [t for t in account_ids(raw) if t != view.actor]

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
        if len(raw) == 1 and is_plain_id(raw[0]):  # one plain id (`user-42`): its only spelling
            return [] if raw[0] == actor else raw
        return [t for t in account_ids(raw) if t != actor]
