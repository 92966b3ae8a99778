"""A progress bar for long commands (`bands import`, `purge`, `simulate`): click's own, on
standard error, and only when standard output is a terminal, so that a pipe, a file or a
CI log never gets one (what a command prints as its result stays as it was)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click


class Progress:
    """Advance with `advance(n)`; `step(label)` names what is being done now."""

    def __init__(self, bar: object | None) -> None:
        self._bar = bar

    @property
    def shown(self) -> bool:
        return self._bar is not None

    def advance(self, amount: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(amount)  # type: ignore[attr-defined]

    def step(self, label: str) -> None:
        if self._bar is not None:
            self._bar.label = label  # type: ignore[attr-defined]
            self._bar.render_progress()  # type: ignore[attr-defined]


def on_terminal() -> bool:
    return sys.stdout.isatty() and sys.stderr.isatty()


@contextmanager
def progress(label: str, length: int, *, show: Callable[[], bool] = on_terminal) -> Iterator[Progress]:
    if length <= 0 or not show():
        yield Progress(None)
        return
    with click.progressbar(length=length, label=label, file=sys.stderr, show_pos=True, show_eta=True) as bar:
        yield Progress(bar)
