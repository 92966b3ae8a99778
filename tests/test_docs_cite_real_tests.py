"""What the docs say is tested is tested: every test file and test function they cite exists.

`docs/security.md` and `docs/reliability.md` back each claim with the tests that prove it; a
test renamed or removed would leave a claim standing on nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
TEST_FILE = re.compile(r"`(tests/[\w/]+\.py)")
TEST_NAME = re.compile(r"\b(test_\w+)\b")
DEFINED = re.compile(r"^(?:async )?def (test_\w+)", re.MULTILINE)


def defined_tests() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("*.py"):
        names.update(DEFINED.findall(path.read_text(encoding="utf-8")))
    return names


def test_every_test_file_the_docs_cite_exists() -> None:
    missing = [
        f"{doc.name}: {cited}"
        for doc in DOCS
        for cited in TEST_FILE.findall(doc.read_text(encoding="utf-8"))
        if not (ROOT / cited).exists()
    ]
    assert missing == []


def test_every_test_function_the_docs_cite_exists() -> None:
    defined = defined_tests()
    files = {p.stem for p in (ROOT / "tests").rglob("test_*.py")}
    missing = [
        f"{doc.name}: {name}"
        for doc in DOCS
        for name in TEST_NAME.findall(doc.read_text(encoding="utf-8"))
        if name not in defined and name not in files
    ]
    assert missing == []
