"""What a policy's SQL may look like: one read-only statement with `:named` bound parameters.

Policy queries run against the app's own tables with values taken from requests. The only
safe way to put a request value into SQL is a bound parameter, so anything that looks like
string formatting (`%s`, `%(name)s`, `{name}`, `?`, `$1`) is refused outright, even inside
a string literal: it is far likelier to be a formatting mistake than data. A query must be
a single SELECT (or WITH ... SELECT): policies read, they never write.
"""

from __future__ import annotations

import functools
import re

# `:name`, but not the `::` of a PostgreSQL cast.
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")
_FORMATTING = (
    (re.compile(r"%(?:\([A-Za-z_]\w*\))?[sdrfi](?!\w)"), "`%s` formatting"),
    (re.compile(r"[{}]"), "`{...}` formatting"),
    (re.compile(r"\?"), "`?` placeholders"),
    (re.compile(r"\$\d"), "`$1` placeholders"),
)
_LEADING_KEYWORD = re.compile(r"\s*\(*\s*([A-Za-z]+)")


def problems(sql: str) -> list[str]:
    """What is wrong with `sql` as a policy query (empty when it is acceptable)."""
    found = []
    code = _code_only(sql)
    for pattern, what in _FORMATTING:
        if pattern.search(_without_comments(sql)):
            found.append(f"uses {what}: pass request values as `:named` bound parameters only")
    statements = [part for part in code.split(";") if part.strip()]
    if len(statements) > 1:
        found.append("holds more than one statement: a policy query is a single SELECT")
    keyword = _LEADING_KEYWORD.match(code)
    if keyword is None or keyword.group(1).upper() not in ("SELECT", "WITH"):
        shown = keyword.group(1).upper() if keyword else "nothing"
        found.append(f"must be a SELECT (or WITH ... SELECT) statement; starts with {shown}")
    elif re.search(r"\b(INSERT|UPDATE|DELETE|MERGE|TRUNCATE|DROP|ALTER|CREATE|GRANT)\b", code, re.I):
        found.append("must only read: it contains a statement that writes")
    return found


@functools.lru_cache(maxsize=512)
def parameters(sql: str) -> frozenset[str]:
    """The `:named` parameters the query uses (outside literals and comments)."""
    return frozenset(_NAMED.findall(_code_only(sql)))


def _without_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*|/\*.*?(\*/|$)", " ", sql, flags=re.S)


def _code_only(sql: str) -> str:
    """`sql` with comments, string literals and quoted identifiers blanked out."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
            out.append(" ")
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
            out.append(" ")
        elif ch in "'\"":
            # A quote doubled inside is an escaped quote: skip it and keep going.
            j = i + 1
            while j < n:
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            i = j + 1
            out.append(" '' ")
        else:
            out.append(ch)
            i += 1
    return "".join(out)
