"""Telling the host app's exceptions from ours.

An exception of ours must never reach the server (the request fails closed with a 503
problem instead); an exception of the app's must reach it untouched, as if Safe Accounts
were not there. Every call into the app therefore marks the app's exceptions as
`AppError`, which the middleware unwraps and re-raises.
"""

from __future__ import annotations


class AppError(Exception):
    """An exception raised by the host app; `original` is re-raised as it was."""

    def __init__(self, original: BaseException) -> None:
        self.original = original
