"""YAML read into a tree that remembers where every value was written.

PyYAML's composer gives nodes with marks but no values; its constructor gives values but
forgets the marks. We compose (safe tags only), then build our own small tree of
`Scalar`, `Sequence` and `Mapping` nodes, each with its `Mark` (file, line). Merging
(`extends`) works on these trees, so a merged value still says which file it came from,
and a validation error found on the merged policy points at the line that caused it.

What is refused here, each as a `PolicyProblem` with its line: syntax errors, tags other
than YAML's plain scalars, mappings and sequences (no `!!python/...`), duplicate keys,
keys that are not text, merge keys (`<<`), recursive aliases and alias bombs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import yaml
from yaml.constructor import SafeConstructor

from ..errors import PolicyProblem

try:  # libyaml is several times faster; the pure-Python composer gives the same nodes
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

# Aliases can make a short file expand into a huge tree ("billion laughs"); no real policy
# comes near these limits.
MAX_VALUES = 200_000
MAX_DEPTH = 64

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_SCALAR_TAGS = frozenset(
    "tag:yaml.org,2002:" + name for name in ("str", "int", "float", "bool", "null", "timestamp")
)


@dataclass(frozen=True, slots=True)
class Mark:
    file: str
    line: int  # 1-based, as editors count


@dataclass(frozen=True, slots=True)
class Scalar:
    value: Any
    mark: Mark


@dataclass(frozen=True, slots=True)
class Sequence:
    items: tuple[Node, ...]
    mark: Mark


@dataclass(frozen=True, slots=True)
class Entry:
    key_mark: Mark
    value: Node


@dataclass(frozen=True, slots=True)
class Mapping:
    entries: dict[str, Entry] = field(hash=False)
    mark: Mark

    def get(self, key: str) -> Node | None:
        entry = self.entries.get(key)
        return None if entry is None else entry.value


Node = Scalar | Sequence | Mapping


class _TooBig(Exception):
    pass


def parse(text: str, file: str) -> tuple[Node | None, list[PolicyProblem]]:
    """Parse one YAML document. Returns the tree (None if unusable) and the problems found."""
    try:
        composed = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        reason = " ".join(part for part in (exc.context, exc.problem) if part) or "not valid YAML"
        return None, [PolicyProblem(file, line, f"YAML syntax error: {reason}")]
    except yaml.YAMLError as exc:
        return None, [PolicyProblem(file, None, f"YAML syntax error: {exc}")]
    except RecursionError:
        return None, [PolicyProblem(file, None, f"nested more than {MAX_DEPTH} levels deep")]
    if composed is None:
        return None, [PolicyProblem(file, 1, "the file is empty (expected a mapping with `version: 1`)")]
    builder = _Builder(file)
    try:
        tree = builder.build(composed, 0)
    except _TooBig as exc:
        return None, [*builder.problems, PolicyProblem(file, None, str(exc))]
    except RecursionError:
        return None, [PolicyProblem(file, None, f"nested more than {MAX_DEPTH} levels deep")]
    return tree, builder.problems


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[PolicyProblem] = []
        self._constructor = SafeConstructor()
        self._built: dict[int, tuple[Node, int]] = {}  # aliases: build once, count every use
        self._building: set[int] = set()
        self._values = 0
        self._marks: dict[int, Mark] = {}

    def _mark(self, node: yaml.Node) -> Mark:
        line = node.start_mark.line + 1
        mark = self._marks.get(line)
        if mark is None:
            mark = self._marks[line] = Mark(self.file, line)
        return mark

    def _problem(self, node: yaml.Node, reason: str) -> None:
        self.problems.append(PolicyProblem(self.file, node.start_mark.line + 1, reason))

    def _count(self, size: int) -> None:
        self._values += size
        if self._values > MAX_VALUES:
            raise _TooBig(f"the document expands to more than {MAX_VALUES} values (aliases?)")

    def build(self, node: yaml.Node, depth: int) -> Node:
        if type(node) is yaml.ScalarNode:  # most nodes: no alias bookkeeping needed
            self._count(1)
            return Scalar(self._scalar(node), self._mark(node))
        if depth > MAX_DEPTH:
            raise _TooBig(f"nested more than {MAX_DEPTH} levels deep")
        key = id(node)
        if key in self._built:
            built, size = self._built[key]
            self._count(size)
            return built
        if key in self._building:
            self._problem(node, "an alias refers to the value that contains it (recursive alias)")
            return Scalar(None, self._mark(node))
        self._building.add(key)
        before = self._values
        try:
            built = self._build(node, depth)
        finally:
            self._building.discard(key)
        self._built[key] = (built, self._values - before)
        return built

    def _build(self, node: yaml.Node, depth: int) -> Node:
        self._count(1)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                self._problem(node, _unsupported(node.tag))
            return Sequence(tuple(self.build(item, depth + 1) for item in node.value), self._mark(node))
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP_TAG:
                self._problem(node, _unsupported(node.tag))
            return self._mapping(node, depth)
        return Scalar(self._scalar(cast(yaml.ScalarNode, node)), self._mark(node))  # the third kind

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag == _STR_TAG:  # most of a policy: no conversion to do
            return node.value
        if node.tag not in _SCALAR_TAGS:
            self._problem(node, _unsupported(node.tag))
            return None
        try:
            return self._constructor.construct_object(node)
        except Exception as exc:  # noqa: BLE001 - e.g. `!!int abc`: any failure is the file's
            self._problem(node, f"cannot read {node.value!r} as {node.tag.rsplit(':', 1)[-1]}: {exc}")
            return None

    def _mapping(self, node: yaml.MappingNode, depth: int) -> Mapping:
        entries: dict[str, Entry] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                self._problem(key_node, "YAML merge keys (`<<`) are not supported: use `extends`")
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self._problem(key_node, "a key must be plain text, not a list or mapping")
                continue
            key = self._scalar(key_node)
            if not isinstance(key, str):
                shown = _yaml_spelling(key)
                self._problem(
                    key_node, f"key {shown} must be text: YAML reads it as {type(key).__name__}; "
                    f"quote it (\"{key_node.value}\")"
                )
                continue
            if key in entries:
                first = entries[key].key_mark.line
                self._problem(key_node, f"duplicate key `{key}` (first at line {first})")
                continue
            entries[key] = Entry(self._mark(key_node), self.build(value_node, depth + 1))
        return Mapping(entries, self._mark(node))


def _unsupported(tag: str) -> str:
    return (
        f"unsupported tag {tag!r}: a policy is plain YAML "
        "(text, numbers, booleans, null, lists and mappings)"
    )


def _yaml_spelling(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_plain(node: Node | None) -> Any:
    """The tree as plain Python values (dicts, lists, scalars), for validation."""
    if node is None:
        return None
    if isinstance(node, Scalar):
        return node.value
    if isinstance(node, Sequence):
        return [to_plain(item) for item in node.items]
    return {key: to_plain(entry.value) for key, entry in node.entries.items()}


def locate(node: Node | None, path: tuple[str | int, ...]) -> tuple[Mark | None, bool]:
    """The mark of the value at `path`, or of the nearest existing ancestor.

    Returns (mark, found). A mapping entry is marked by its key's line: that is where a
    person looks for `then:` even when its value is a block on the lines below.
    """
    mark = None if node is None else node.mark
    for step in path:
        if isinstance(node, Mapping) and isinstance(step, str) and step in node.entries:
            entry = node.entries[step]
            mark, node = entry.key_mark, entry.value
        elif isinstance(node, Sequence) and isinstance(step, int) and 0 <= step < len(node.items):
            node = node.items[step]
            mark = node.mark
        else:
            return mark, False
    return mark, True
