"""The benchmark harness: every module can be found and imported, and a run rewrites only
the sections it measured. Nothing here times anything."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from bench import __main__ as harness
from bench._report import Row, rewrite

DOC = """# Benchmarks

Prose before any section, kept as written.

## bands

Why the band figures look as they do.

<!-- bench:bands -->
| what | figure | target | met |
| old band row |
<!-- /bench:bands -->

Prose between sections.

## http

<!-- bench:http -->
old http table
<!-- /bench:http -->

Prose at the end.
"""


def test_every_benchmark_module_imports_and_has_a_run_function() -> None:
    names = harness.available()
    assert {"bands", "http", "overhead", "peers", "realistic", "signals", "startup", "websocket"} <= set(names)
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        assert callable(module.run), name


def test_an_unknown_benchmark_name_is_refused_with_the_names_there_are(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert harness.main(["nonesuch"]) == 2
    err = capsys.readouterr().err
    assert "no such benchmark: nonesuch" in err
    assert "peers" in err


def test_rewrite_replaces_only_the_sections_it_was_given(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(DOC)
    row = Row("http", "unknown route", "9,000 req/s", ">= 0.9", True)
    rewrite({"http": [row]}, doc, "a test box")
    text = doc.read_text()
    assert "| old band row |" in text
    assert "old http table" not in text
    assert "| unknown route | 9,000 req/s | >= 0.9 | yes |" in text
    assert "Measured on: a test box." in text
    for prose in ("Prose before", "Why the band figures", "Prose between", "Prose at the end"):
        assert prose in text
    assert text.count("<!-- bench:http -->") == 1


def test_rewrite_appends_a_section_the_document_does_not_have(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(DOC)
    rewrite({"peers": [Row("peers", "Casbin", "70 µs", ">= 50x", False)]}, doc, "a test box")
    text = doc.read_text()
    assert text.index("Prose at the end") < text.index("## peers")
    assert "| Casbin | 70 µs | >= 50x | **no** |" in text
    assert text.rstrip().endswith("<!-- /bench:peers -->")
    assert "| old band row |" in text


def test_a_figure_with_a_pipe_does_not_break_the_table(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    rewrite({"x": [Row("x", "a | b", "1")]}, doc, "a test box")
    assert "| a \\| b | 1 |  |  |" in doc.read_text()
