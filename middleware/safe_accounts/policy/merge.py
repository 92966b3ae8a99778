"""`extends`: an app's policy merged over its base, before validation.

- Lists of named things merge by their key: `rules`, `signals.counts`, `signals.rates` and
  `signals.scores` by `id`, `routes` by `name` (a route without a name is appended), and a
  score's `parts` by `signal` (so an app can change one weight, or add a part).
  An entry whose key is already in the base replaces the fields it gives and keeps the
  others, so `rules: [{id: stranger-dm-to-minor, mode: monitor}]` changes only the mode.
  Fields are replaced whole: a new `when:` replaces the base's `when:`, it is not merged.
  New entries come after the base's, in the order written.
- `tests` are appended: the base's cases still run against the merged policy, and a case
  of the same name as one of the base's is an error (half of one case merged with half of
  another would test what nobody wrote), reported at both places.
- The top level, `defaults`, `bands`, `bands.cache`, `relationships`, `queries`,
  `signals` and `moderation` merge key by key.
- Everything else (`identity`, `bands.store`, each query or relationship lookup, scalars)
  is replaced as a whole by the extending file: half of one identity source or lookup
  merged with half of another would be a value nobody wrote.

Every value keeps the mark of the file it came from.
"""

from __future__ import annotations

from typing import Any

from .yamlnodes import Entry, Mapping, Node, Scalar, Sequence

_KEY_BY_KEY: frozenset[tuple[str, ...]] = frozenset(
    {
        (),
        ("defaults",),
        ("bands",),
        ("bands", "cache"),
        ("relationships",),
        ("queries",),
        ("signals",),
        ("moderation",),
    }
)
_LISTS_BY_ID: dict[tuple[str, ...], str] = {
    ("routes",): "name",
    ("rules",): "id",
    ("signals", "counts"): "id",
    ("signals", "rates"): "id",
    ("signals", "scores"): "id",
}
# Lists inside one entry of a list above, merged by their own key: a score's parts.
_NESTED_BY_KEY: dict[tuple[str, ...], tuple[str, str]] = {("signals", "scores"): ("parts", "signal")}
_LISTS_APPENDED: frozenset[tuple[str, ...]] = frozenset({("tests",)})


def merge(base: Node, child: Node, at: tuple[str, ...] = ()) -> Node:
    """`child` merged over `base` (see the module docstring for the rules)."""
    if at in _KEY_BY_KEY and isinstance(base, Mapping) and isinstance(child, Mapping):
        entries = dict(base.entries)
        for key, entry in child.entries.items():
            if key in entries:
                merged = merge(entries[key].value, entry.value, (*at, key))
                entries[key] = Entry(entry.key_mark, merged)
            else:
                entries[key] = entry
        return Mapping(entries, child.mark)
    if at in _LISTS_APPENDED and isinstance(base, Sequence) and isinstance(child, Sequence):
        return Sequence((*base.items, *child.items), child.mark)
    key_field = _LISTS_BY_ID.get(at)
    if key_field is not None and isinstance(base, Sequence) and isinstance(child, Sequence):
        return _merge_list(base, child, key_field, _NESTED_BY_KEY.get(at))
    return child


def _merge_list(base: Sequence, child: Sequence, key_field: str, nested: tuple[str, str] | None = None) -> Sequence:
    merged: list[Node] = list(base.items)
    positions: dict[Any, int] = {}
    for index, item in enumerate(base.items):
        key = _key_of(item, key_field)
        if key is not None:
            positions.setdefault(key, index)
    for item in child.items:
        key = _key_of(item, key_field)
        found: int | None = positions.pop(key, None) if key is not None else None
        if found is None:
            # New, or a second entry with the same key: kept, so the duplicate is reported.
            merged.append(item)
            continue
        assert isinstance(item, Mapping)
        old = merged[found]
        assert isinstance(old, Mapping)
        entries = {**old.entries, **item.entries}
        if nested is not None:
            name, nested_key = nested
            before, after = old.entries.get(name), item.entries.get(name)
            if (
                before is not None
                and after is not None
                and isinstance(before.value, Sequence)
                and isinstance(after.value, Sequence)
            ):
                entries[name] = Entry(after.key_mark, _merge_list(before.value, after.value, nested_key))
        merged[found] = Mapping(entries, item.mark)
    return Sequence(tuple(merged), child.mark)


def _key_of(item: Node, key_field: str) -> str | None:
    if not isinstance(item, Mapping):
        return None
    value = item.get(key_field)
    if isinstance(value, Scalar) and isinstance(value.value, str):
        return value.value
    return None
