"""What the demo app's tests share besides fixtures: the personas' ids, the test key, and
the type of the log-in fixtures. (A module of its own: test modules import it by name,
which a `conftest` cannot safely be.)"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from demo_app.personas import PERSONAS

SECRET = "a-test-key-that-is-long-enough-for-hs256"
# policies/demo.yaml with a test machine's time budget (the file says why).
POLICY = Path(__file__).resolve().parent / "policies" / "demo_under_test.yaml"
BASE = "http://demo.test"
ID = {p.handle: p.id for p in PERSONAS}

Login = Callable[[str], Awaitable[httpx.AsyncClient]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def served_demo(args: list[str], folder: Path, env: Mapping[str, str]) -> Iterator[str]:
    """`python -m demo_app --port P *args` in `folder` on a free port, as `make demo` runs it
    (wrapped, with the demo's policy under a test budget); its base URL once its log-in page
    answers, and the process stopped afterwards."""
    port = free_port()
    command = [sys.executable, "-m", "demo_app", "--port", str(port), *args]
    if "--bare" not in args:
        command += ["--policy", str(POLICY)]
    process = subprocess.Popen(command, cwd=folder, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/login", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"the demo app did not start:\n{output}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout:
            process.stdout.close()
