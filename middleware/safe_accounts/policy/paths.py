"""Route templates, path normalisation and the route table the request path consults.

A groomer who cannot send a message through `/api/messages` will try `/api//messages/`,
`/API/messages`, `/api/%6Dessages`, `/api/x/../messages` and `/api/messages;x`. The app's
router (or the server in front of it) may well serve every one of those, so the policy
must recognise every one of them too. The table therefore matches in two passes:

1. the path exactly as Starlette's router sees it (`scope["path"]` minus `root_path`,
   case-sensitive): whatever route Starlette would serve, we pick the same one;
2. the canonical spelling of every candidate path (`normalise`), matched
   case-insensitively: spellings that some server, proxy or framework would fold into a
   protected route are caught even when Starlette itself would not serve them.

Our matching is therefore never *less* inclusive than Starlette's, and often more.
Within one pass a literal segment beats a parameter (`/users/me` before `/users/{id}`,
whatever the order written: `specificity`); otherwise the first declared route wins, as
in Starlette.

Templates use Starlette's syntax and semantics (`{id}`, `{id:int}`, `{id:str}`,
`{p:path}`, `{x:uuid}`, `{x:float}`), compiled here once at start-up. Captured values
are returned as text, in their original case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar
from urllib.parse import unquote

from .._types import Scope
from ..errors import ConfigurationError

P = TypeVar("P")

# Same grammar as Starlette's PARAM_REGEX: a name, then an optional `:convertor`.
_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(:[a-zA-Z_][a-zA-Z0-9_]*)?}")

# The regexes of Starlette's convertors (starlette/convertors.py), so a template means here
# exactly what it means to the app's router.
CONVERTORS: Mapping[str, str] = {
    "str": r"[^/]+",
    "path": r".*",
    "int": r"[0-9]+",
    "float": r"[0-9]+(?:\.[0-9]+)?",
    "uuid": r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}",
}

# Nobody encodes a path more than a couple of times on purpose; a path still changing after
# this many decodings is an attack on our CPU, and no app decodes it that often either.
_MAX_DECODINGS = 16

# Any of these means the path may have another spelling; without them it is already canonical.
_NEEDS_WORK = re.compile(r"%|;|//|/\.")


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled route template: its regex source and its parameter names, in order."""

    template: str
    pattern: str
    params: tuple[str, ...]

    @property
    def is_literal(self) -> bool:
        return not self.params

    @property
    def bare(self) -> str:
        """The pattern without capturing groups, to sit in an alternation with others."""
        return re.sub(r"\(\?P<\w+>", "(?:", self.pattern)


def compile_template(template: str) -> Template:
    """Compile a Starlette-style template; raise ConfigurationError saying what is wrong."""
    if not isinstance(template, str) or not template.startswith("/"):
        raise ConfigurationError(f"route template {template!r} must start with '/'")
    pattern: list[str] = []
    params: list[str] = []
    end = 0
    for found in _PARAM.finditer(template):
        name, convertor = found.group(1), (found.group(2) or ":str")[1:]
        if convertor not in CONVERTORS:
            known = ", ".join(CONVERTORS)
            raise ConfigurationError(
                f"route template {template!r}: unknown convertor {convertor!r} in "
                f"{found.group(0)} (known: {known})"
            )
        if name in params:
            raise ConfigurationError(f"route template {template!r}: parameter {name!r} appears twice")
        pattern.append(_literal(template, template[end : found.start()]))
        pattern.append(f"(?P<{name}>{CONVERTORS[convertor]})")
        params.append(name)
        end = found.end()
    pattern.append(_literal(template, template[end:]))
    return Template(template, "".join(pattern), tuple(params))


def _literal(template: str, text: str) -> str:
    # Starlette would treat a stray brace as literal text; in a policy it is always a typo
    # (`{id:}`, `{1}`), and a typo here silently unprotects a route.
    if "{" in text or "}" in text:
        raise ConfigurationError(
            f"route template {template!r}: {text!r} has a brace that is not a parameter "
            "(parameters look like {name} or {name:int})"
        )
    return re.escape(text)


def template_convertors(template: str) -> dict[str, str]:
    """Each parameter of a template and its convertor (`str` when none is written)."""
    compile_template(template)  # the same errors as everywhere else
    return {found.group(1): (found.group(2) or ":str")[1:] for found in _PARAM.finditer(template)}


def template_params(template: str) -> tuple[str, ...]:
    """The parameter names of a template (ConfigurationError if it does not compile)."""
    return compile_template(template).params


def normalise(path: str) -> str:
    """The canonical spelling of `path`: what every equivalent spelling folds into.

    Percent-decoded until stable (so `%252F` cannot smuggle a slash), `;params` stripped
    from each segment, empty and `.` segments dropped, `..` resolved (never above the
    root), no trailing slash except for `/` itself. Case is kept: matching ignores case
    instead, so that captured parameter values keep their original spelling.
    """
    if not _NEEDS_WORK.search(path) and (path == "/" or (path.startswith("/") and not path.endswith("/"))):
        return path
    for _ in range(_MAX_DECODINGS):
        if "%" not in path:
            break
        decoded = unquote(path)
        if decoded == path:
            break
        path = decoded
    segments: list[str] = []
    for segment in path.split("/"):
        segment = segment.split(";", 1)[0]
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    return "/" + "/".join(segments)


def route_path(scope: Scope) -> str:
    """The path the app's router matches: `scope["path"]` minus `root_path` (Starlette's rule)."""
    path: str = scope.get("path") or "/"
    root = scope.get("root_path") or ""
    if not root or not path.startswith(root):
        return path
    if path == root:
        return ""
    if path[len(root)] == "/":
        return path[len(root) :]
    return path


def _only_spelling(scope: Scope, path: str) -> bool:
    """Is `path` the request's one and only canonical spelling?"""
    if scope.get("root_path") or _NEEDS_WORK.search(path) or (path != "/" and path.endswith("/")):
        return False
    raw = scope.get("raw_path")
    return raw is None or raw == path.encode("latin-1", "replace")


def candidate_paths(scope: Scope) -> Iterator[str]:
    """Every canonical spelling under which this request might reach a route, each once.

    The decoded `path` (minus `root_path`) and the raw bytes the client sent: a server may
    decode `%2F` into a slash in one and not the other.
    """
    root = scope.get("root_path") or ""
    canonical_root = normalise(root) if root else ""
    seen: set[str] = set()
    spellings = [route_path(scope) or "/"]
    raw = scope.get("raw_path")
    if isinstance(raw, bytes | bytearray):
        spellings.append(bytes(raw).decode("latin-1"))
    for spelling in spellings:
        canonical = _without_root(normalise(spelling), canonical_root)
        if canonical not in seen:
            seen.add(canonical)
            yield canonical


def _without_root(canonical: str, canonical_root: str) -> str:
    if not canonical_root or canonical_root == "/":
        return canonical
    if canonical == canonical_root:
        return "/"
    if canonical.startswith(canonical_root + "/"):
        return canonical[len(canonical_root) :]
    return canonical


def specificity(template: Template) -> tuple[int, ...]:
    """A sort key that puts `/users/me` before `/users/{id}`: per segment, literal text (0)
    before a segment holding a parameter (1), compared from the first segment on.

    An app that serves both has `/users/me` reach its own endpoint (FastAPI's documentation
    has it declared first; Litestar's router and Django's most-specific patterns do the
    same), so a policy that names both means the same, in whatever order it lists them."""
    return tuple(int("{" in segment) for segment in template.template[1:].split("/"))


class RouteMatch(NamedTuple, Generic[P]):
    payload: P
    params: dict[str, str]


class _Alternation:
    """Which route a path matches: one regex per literal first path segment.

    Each regex is an alternation of the routes' patterns, tried in declaration order in
    C, each branch ending in an empty group so that `lastindex` names the branch that
    matched (capturing groups inside the branches would make every failed branch pay
    for the groups before it). Splitting by the first segment means a request for
    `/static/app.js` never tries the `/api/...` routes. Routes whose first segment holds
    a parameter (`/{user}/posts`) are in every alternation, in their declared place.
    """

    def __init__(self, templates: list[Template], *, fold: bool) -> None:
        self._fold = fold
        flags = re.IGNORECASE if fold else 0
        segments = [_first_segment(t) for t in templates]

        def alternation(key: str | None) -> tuple[re.Pattern[str], tuple[int, ...]]:
            chosen = [
                i for i, s in enumerate(segments) if s is None or (key is not None and self._key(s) == key)
            ]
            source = "|".join(f"(?:{templates[i].bare})()" for i in chosen) or "(?!)"
            # `$`, not fullmatch: like Starlette's own regexes, so "/api/messages\n" (a
            # request for `/api/messages%0A`) reaches the route here as it does in the app.
            return re.compile(f"(?:{source})$", flags), tuple(chosen)

        keys = {self._key(s) for s in segments if s is not None}
        self._by_segment = {key: alternation(key) for key in keys}
        self._others = alternation(None)

    def _key(self, segment: str) -> str:
        return segment.casefold() if self._fold else segment

    def match(self, path: str) -> int | None:
        """The index of the first route that matches `path`, or None."""
        # The first segment, as `$` sees it: one trailing newline does not count.
        end = len(path) - 1 if path.endswith("\n") else len(path)
        slash = path.find("/", 1, end)
        segment = path[1 : end if slash < 0 else slash]
        regex, indexes = self._by_segment.get(self._key(segment), self._others)
        found = regex.match(path)
        return None if found is None else indexes[found.lastindex - 1]  # type: ignore[operator]


def _first_segment(template: Template) -> str | None:
    """The template's first segment if it is literal text, else None."""
    segment = template.template[1:].split("/", 1)[0]
    return None if "{" in segment else segment


class _Bucket(Generic[P]):
    """The routes of one method: a dict for literal templates, alternations for the rest."""

    def __init__(self, entries: list[tuple[Template, P]]) -> None:
        templates = [template for template, _ in entries]
        self._payloads = [payload for _, payload in entries]
        first_param = next((i for i, t in enumerate(templates) if not t.is_literal), len(templates))
        # A literal route is only a sure answer when no parameterised route declared before
        # it could also match (first declared wins).
        self._exact: dict[str, int] = {}
        self._folded: dict[str, int] = {}
        for index, template in enumerate(templates[:first_param]):
            self._exact.setdefault(template.template, index)
            self._folded.setdefault(template.template.casefold(), index)
        self._case_sensitive = _Alternation(templates, fold=False)
        self._case_insensitive = _Alternation(templates, fold=True)
        # Each route's own regex, used once its index is known, to read the parameters.
        self._params = [
            (re.compile(t.pattern + "$"), re.compile(t.pattern + "$", re.IGNORECASE)) if t.params else None
            for t in templates
        ]

    def exact(self, path: str) -> RouteMatch[P] | None:
        index = self._exact.get(path)
        if index is None:
            index = self._case_sensitive.match(path)
        return None if index is None else self._result(index, path, folded=False)

    def folded(self, path: str) -> RouteMatch[P] | None:
        index = self._folded.get(path.casefold())
        if index is None:
            index = self._case_insensitive.match(path)
        return None if index is None else self._result(index, path, folded=True)

    def _result(self, index: int, path: str, *, folded: bool) -> RouteMatch[P]:
        regexes = self._params[index]
        if regexes is None:
            return RouteMatch(self._payloads[index], {})
        found = regexes[folded].match(path)
        assert found is not None  # the alternation matched this very pattern
        return RouteMatch(self._payloads[index], found.groupdict())


class RouteTable(Generic[P]):
    """Method + path -> the first declared route that matches, with its parameters.

    Built once from `(methods, template, payload)` triples. `methods` is one method or
    several (`WEBSOCKET` for websocket routes); a GET route also answers HEAD, as in
    Starlette. A static path beats a template (`specificity`); among equally specific
    routes the first declared that matches wins, as in Starlette. See the module docstring
    for the two matching passes.
    """

    def __init__(self, routes: Iterable[tuple[str | Iterable[str], str, P]]) -> None:
        by_method: dict[str, list[tuple[Template, P]]] = {}
        for methods, template, payload in routes:
            names = {methods} if isinstance(methods, str) else set(methods)
            names = {name.upper() for name in names}
            if "GET" in names:
                names.add("HEAD")
            compiled = compile_template(template)
            for name in sorted(names):
                by_method.setdefault(name, []).append((compiled, payload))
        # Literal segments before parameters, whatever the order written (stable otherwise).
        self._buckets = {
            method: _Bucket(sorted(entries, key=lambda entry: specificity(entry[0])))
            for method, entries in by_method.items()
        }


    @property
    def methods(self) -> frozenset[str]:
        return frozenset(self._buckets)

    def match(self, method: str, path: str) -> RouteMatch[P] | None:
        """The route for `path` as given (Starlette's view), else for its canonical spelling."""
        bucket = self._buckets.get(method.upper())
        if bucket is None:
            return None
        return bucket.exact(path) or bucket.folded(normalise(path))

    def matches_under_any_method(self, scope: Scope) -> bool:
        """Would some route match this path under some HTTP method? (When not, no method
        override can make the request protected, and its headers need no look.)"""
        return any(
            method != "WEBSOCKET" and self.match_scope({**scope, "method": method}) is not None
            for method in self._buckets
        )

    def match_scope(self, scope: Scope) -> RouteMatch[P] | None:
        """The route for an ASGI `http` or `websocket` scope, trying every candidate spelling."""
        method = "WEBSOCKET" if scope.get("type") == "websocket" else str(scope.get("method", "GET"))
        bucket = self._buckets.get(method.upper())
        if bucket is None:
            return None
        path = route_path(scope)
        found = bucket.exact(path)
        if found is not None:
            return found
        if _only_spelling(scope, path):
            # A clean path the client sent as is: its canonical spelling is itself.
            return bucket.folded(path)
        for spelling in candidate_paths(scope):
            found = bucket.folded(spelling)
            if found is not None:
                return found
        return None
