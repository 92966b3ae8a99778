"""What the demo app's tests share besides fixtures: the personas' ids, the test key, and
the type of the log-in fixtures. (A module of its own: test modules import it by name,
which a `conftest` cannot safely be.)"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from demo_app.personas import PERSONAS

SECRET = "a-test-key-that-is-long-enough-for-hs256"
BASE = "http://demo.test"
ID = {p.handle: p.id for p in PERSONAS}

Login = Callable[[str], Awaitable[httpx.AsyncClient]]
