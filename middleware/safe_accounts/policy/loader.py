"""Policy files in, one validated `PolicyFile` out, or every problem with its file and line.

    loaded = load_policy("policies/app.yaml")
    loaded.policy     # the merged, validated PolicyFile
    loaded.version    # the policy version hash written in every decision log row

Steps: read each file of the `extends` chain (base first) into a marked tree, merge the
trees (merge.py), validate the merged tree against the model, then check what the model
cannot see (checks.py), and what needs a lookup the policy does not declare (needs.py).
Problems from every step are collected and raised together as one `PolicyError`, sorted by
file and line; nothing else escapes for a bad file. What a bundled base (the baseline)
needs and the host has not declared is no problem of the host's file: it is kept as a
notice (`LoadedPolicy.notices`), shown by `policy check` and logged at start-up.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .. import _resources
from ..errors import PolicyError, PolicyProblem
from . import checks, needs, reasons
from .merge import merge
from .model import PolicyFile
from .yamlnodes import Mapping, Node, Scalar, locate, parse, to_plain

Loc = tuple[str | int, ...]

# Bigger than any policy a person writes; stops us reading a wrong, huge file into memory.
MAX_FILE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class LoadedPolicy:
    """A loaded policy: the model, the files it came from, and its version hash."""

    policy: PolicyFile
    files: tuple[Path, ...]  # every file read, the base of the chain first
    version: str  # first 16 hex digits of sha256 over the canonical JSON of `policy`
    _tree: Node = field(repr=False, compare=False)
    # What the policy inherits from a bundled base and cannot do as written (a signal of
    # the baseline that reads a lookup this policy does not declare): loud, not fatal.
    notices: tuple[PolicyProblem, ...] = ()

    def where(self, path: Loc) -> tuple[str, int] | None:
        """(file, line) where the merged value at `path` was written, e.g.
        `where(("queries", "members", "sql"))`; None if the value is not in any file
        (a default)."""
        mark, found = locate(self._tree, tuple(path))
        if not found or mark is None:
            return None
        return mark.file, mark.line


def load_policy(path: str | Path) -> LoadedPolicy:
    """Load, merge, validate and check a policy file. Raises PolicyError with every problem."""
    files: list[Path] = []
    problems = _Problems(files)
    tree = _read_chain(Path(path), files, (), problems)
    if tree is None:
        raise problems.error()
    data = to_plain(tree)
    policy: PolicyFile | None = None
    try:
        policy = PolicyFile.model_validate(data)
    except ValidationError as exc:
        for reason in reasons.explain(PolicyFile, data, exc.errors(include_url=False)):
            problems.add(tree, reason.path, reason.reason)
    except RecursionError:
        problems.extend([PolicyProblem(str(files[-1]), None, "the policy is nested too deeply")])
    for loc, message in checks.find(data, lambda loc: _where_text(tree, loc)):
        problems.add(tree, loc, message)
    notices = [_unmet(tree, data, unmet, problems) for unmet in needs.unmet(data)]
    if problems or policy is None:
        raise problems.error()
    return LoadedPolicy(
        policy, tuple(files), policy_version(policy), tree, tuple(n for n in notices if n is not None)
    )


def policy_version(policy: PolicyFile) -> str:
    """The policy version hash: same policy, same hash, whatever file layout produced it."""
    canonical = json.dumps(
        policy.model_dump(mode="json", by_alias=True),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:16]


# --- reading the extends chain ----------------------------------------------------------------


def _read_chain(
    path: Path,
    files: list[Path],
    chain: tuple[tuple[Path, str], ...],
    problems: _Problems,
    named_at: Scalar | None = None,
) -> Node | None:
    """The merged tree of `path` and its bases; None when a file cannot be used at all.

    Problems that leave the tree usable (a duplicate key: the first one is kept) are
    recorded and reading goes on, so one run lists everything to fix. A base that cannot
    be read is reported at the `extends:` line that names it.
    """
    resolved = _resolve(path)
    shown = str(path)

    def cannot_use(reason: str) -> None:
        if named_at is None:
            problems.extend([PolicyProblem(shown, None, reason)])
        else:
            where = named_at.mark
            reason = f"`extends: {named_at.value}` ({shown}): {reason}"
            problems.extend([PolicyProblem(where.file, where.line, reason)])

    if resolved in (seen for seen, _ in chain):
        cycle = " -> ".join([*(name for _, name in chain), shown])
        cannot_use(f"goes round in a circle ({cycle})")
        return None
    text = _read_text(path)
    if isinstance(text, _Unreadable):
        cannot_use(text.reason)
        return None
    tree, found = parse(text, shown)
    problems.extend(found)
    if tree is not None and not isinstance(tree, Mapping):
        problems.extend(
            [PolicyProblem(shown, tree.mark.line, "the top level must be a mapping (`version: 1`, `name: ...`)")]
        )
        tree = None
    base: Node | None = None
    base_name = tree.get("extends") if tree is not None else None
    if base_name is not None:
        base_path = _base_path(path, base_name, shown)
        if isinstance(base_path, PolicyProblem):
            problems.extend([base_path])
            tree = None
        else:
            assert isinstance(base_name, Scalar)  # _base_path refuses anything else
            base = _read_chain(base_path, files, (*chain, (resolved, shown)), problems, base_name)
            if base is None:
                tree = None
    files.append(path)
    if tree is None or base is None:
        return tree
    return merge(base, tree)


def _resolve(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def _read_text(path: Path) -> str | _Unreadable:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return _Unreadable("no such file")
    except IsADirectoryError:
        return _Unreadable("is a directory, not a policy file")
    except OSError as exc:
        return _Unreadable(f"cannot read: {exc.strerror or exc}")
    if len(raw) > MAX_FILE_BYTES:
        return _Unreadable(f"larger than {MAX_FILE_BYTES // 1024 // 1024} MiB: not a policy file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return _Unreadable(f"not UTF-8 text (line {line})")


@dataclass(frozen=True, slots=True)
class _Unreadable:
    reason: str


def _base_path(child: Path, value: Node, shown: str) -> Path | PolicyProblem:
    if not isinstance(value, Scalar) or not isinstance(value.value, str) or not value.value.strip():
        return PolicyProblem(
            shown, value.mark.line, "`extends` must name a bundled policy (`baseline`) or a relative path"
        )
    name = value.value.strip()
    if _is_bundled_name(name):
        try:
            bundled = _resources.policies_dir() / f"{name}.yaml"
        except FileNotFoundError as exc:
            return PolicyProblem(shown, value.mark.line, f"the bundled policies are missing: {exc}")
        if not bundled.is_file():
            known = ", ".join(sorted(p.stem for p in bundled.parent.glob("*.yaml"))) or "none"
            return PolicyProblem(
                shown, value.mark.line, f"`extends: {name}`: no bundled policy of that name (bundled: {known})"
            )
        return bundled
    return child.parent / name


def _is_bundled_name(name: str) -> bool:
    return "/" not in name and "\\" not in name and not name.startswith(".") and not name.endswith(
        (".yaml", ".yml")
    )


# --- lookups a condition needs ------------------------------------------------------------


def _unmet(tree: Node, data: Any, unmet: needs.Unmet, problems: _Problems) -> PolicyProblem | None:
    """A condition whose lookup the policy does not declare.

    One that never holds without it turns its rule or signal off: a problem where the
    host's own files wrote the condition, or change the bundled rule or signal it is in
    (the host relies on something that never acts); a notice when all of it comes from a
    bundled policy, since refusing that would make the baseline unloadable for every host
    without the lookup. One that holds for every pair without it (a mutual-connection
    range from 0: everyone counts as sharing none) leaves the item acting on more than it
    says, the protective way round, as `connected: false` does without its lookup: a
    notice, wherever it is written.
    """
    kind = "rule" if unmet.item[0] == "rules" else "signal"
    item = _item_at(data, unmet.item)
    name = item.get("id")
    without = f"without it {unmet.without}"
    if unmet.inactive and _written_by_host(tree, unmet.condition):
        problems.add(
            tree, unmet.condition,
            f"`{unmet.condition[-1]}` {unmet.needs}: {without} "
            "(declare it under `relationships:`, or drop the condition)",
        )
        return None
    changed = [key for key in item if key != "id" and _written_by_host(tree, (*unmet.item, key))]
    if changed and unmet.inactive:
        problems.add(
            tree, (*unmet.item, changed[0]),
            f"{kind} `{name}` is changed here, and its `{unmet.written}` ({_where_text(tree, unmet.condition)}) "
            f"{unmet.needs}: {without} (declare it under `relationships:`, "
            f"or switch the {kind} off with `enabled: false`)",
        )
        return None
    mark, _ = locate(tree, unmet.condition)
    if unmet.inactive:
        state, hint = "inactive", f", or switch the {kind} off with `enabled: false` to say the policy does without it"
    else:
        state, hint = "broader than written", " for the range to count what it says"
    return PolicyProblem(
        mark.file if mark is not None else "", mark.line if mark is not None else None,
        f"{kind} `{name}` is {state}: its `{unmet.written}` {unmet.needs}: {without} "
        f"(declare the lookup under `relationships:`{hint})",
        path=_path_text(unmet.condition),
    )


def _item_at(data: Any, loc: Loc) -> dict[str, Any]:
    for step in loc:
        data = data[step]
    assert isinstance(data, dict)  # needs.unmet yields only rules and signals that are mappings
    return data


def _written_by_host(tree: Node, loc: Loc) -> bool:
    """Whether the value at `loc` was written in a file of the host's, not a bundled policy."""
    mark, found = locate(tree, loc)
    return found and mark is not None and not _is_bundled_file(mark.file)


def _is_bundled_file(file: str) -> bool:
    try:
        bundled = _resources.policies_dir()
    except FileNotFoundError:
        return False
    return _resolve(Path(file)).parent == _resolve(bundled)


# --- collecting problems -----------------------------------------------------------------------


class _Problems:
    def __init__(self, files: list[Path]) -> None:
        self._files = files
        self._found: list[PolicyProblem] = []

    def __bool__(self) -> bool:
        return bool(self._found)

    def extend(self, problems: list[PolicyProblem]) -> None:
        self._found.extend(problems)

    def add(self, tree: Node, loc: Loc, reason: str) -> None:
        mark, _ = locate(tree, loc)
        file = mark.file if mark is not None else str(self._files[-1])
        line = mark.line if mark is not None else None
        self._found.append(PolicyProblem(file, line, reason, path=_path_text(loc)))

    def error(self) -> PolicyError:
        order = {str(f): i for i, f in enumerate(self._files)}
        found = sorted(
            self._found, key=lambda p: (order.get(p.file, len(order)), p.line or 0)
        )
        return PolicyError(_unique(found))


def _unique(problems: list[PolicyProblem]) -> list[PolicyProblem]:
    seen: set[tuple[Any, ...]] = set()
    kept = []
    for problem in problems:
        key = (problem.file, problem.line, problem.reason, problem.path)
        if key not in seen:
            seen.add(key)
            kept.append(problem)
    return kept


def _where_text(tree: Node, loc: Loc) -> str:
    mark, _ = locate(tree, loc)
    return _path_text(loc) if mark is None else f"{mark.file}:{mark.line}"


def _path_text(loc: Loc) -> str:
    text = ""
    for step in loc:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            text += f".{step}" if text else str(step)
    return text
