"""The same small world for every framework: four people, one friendship, and the app's own
`users` table (birth dates) and `friendships`, which the policy reads as they are.

    parent (adult)  --friends--  kid (14)
    stranger (adult)             young (11)
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

# Numeric ids, as most apps have them (FastAPI and Django type them `int`).
IDS = {"parent": 1, "stranger": 2, "kid": 3, "young": 4}
NAMES = {number: name for name, number in IDS.items()}
BIRTH_DATES = {"parent": "1980-03-01", "stranger": "1975-07-09", "kid": "2011-05-01", "young": "2014-09-01"}
FRIENDS = [("parent", "kid")]

# What every recipe's policy has in common: the baseline, bands from the app's own birth
# dates, connections from its own friendships. Each recipe adds its identity and routes.
COMMON = """\
version: 1
extends: baseline
# A production budget is 250 ms; a loaded test machine can take longer over a cold query.
defaults: {time_budget_ms: 2000}
bands:
  store: {source: host, table: users, id_column: id, birth_date_column: birth_date}
relationships:
  connected: {sql: "SELECT friend_id FROM friendships WHERE user_id = :actor AND friend_id IN :targets"}
  mutual_count:
    sql: >-
      SELECT COUNT(*) FROM friendships a JOIN friendships b ON a.friend_id = b.friend_id
      WHERE a.user_id = :actor AND b.user_id = :target
"""


def build_database(path: Path) -> str:
    """The app's tables and ours in one SQLite file; its URL."""
    url = f"sqlite+aiosqlite:///{path}"
    subprocess.run(
        [sys.executable, "-m", "safe_accounts.cli", "db", "upgrade", "--database-url", url],
        check=True, capture_output=True,
    )
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, birth_date DATE)")
        db.executemany(
            "INSERT INTO users VALUES (?, ?, ?)",
            [(IDS[name], name.title(), BIRTH_DATES[name]) for name in IDS],
        )
        db.execute("CREATE TABLE friendships (user_id INTEGER, friend_id INTEGER)")
        for a, b in FRIENDS:
            db.executemany("INSERT INTO friendships VALUES (?, ?)", [(IDS[a], IDS[b]), (IDS[b], IDS[a])])
    return url


def profile_of(number: int) -> dict[str, object] | None:
    name = NAMES.get(number)
    return None if name is None else {"id": number, "name": name.title(), "school": "Park High", "city": "Leeds"}


def search_results() -> list[dict[str, object]]:
    return [{"id": number, "name": name.title()} for name, number in IDS.items()]
