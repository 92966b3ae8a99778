"""The app's own functions, named in a policy as `module:function` and imported at start-up.

Below every layer: identity sources, target sources and lookups all name callables the
same way, and fail the same way when one cannot be imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, cast

from .errors import ConfigurationError


def import_callable(spec: str) -> Callable[..., Any]:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigurationError(f"callable {spec!r} must be written `module:function`")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"callable {spec!r}: cannot import {module_name!r}: {exc}") from exc
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigurationError(f"callable {spec!r}: {module_name!r} has no {attr!r}") from None
    if not callable(target):
        raise ConfigurationError(f"callable {spec!r} is not callable")
    return cast("Callable[..., Any]", target)
