"""The wrapped host app served by uvicorn in a process of its own, which a test may kill.

The process's log goes to a file (`log`), so a test can read what a real server printed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .postgres_server import free_port

ROOT = Path(__file__).resolve().parents[2]
HEALTH = "/.well-known/safe-accounts/health"
_START_TIMEOUT = 60.0


class ServerProcess:
    def __init__(self, env: dict[str, str], log: Path, *, workers: int = 1) -> None:
        self.env = {**os.environ, **env}
        self.log = log
        self.workers = workers
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> None:
        command = [
            sys.executable, "-m", "uvicorn", "--factory", "tests.hardening.served:create_app",
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
            "--log-level", "warning", "--no-access-log",
        ]
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._ready():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the served app did not start: {self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    def _ready(self) -> bool:
        try:
            response = httpx.get(self.url + HEALTH, timeout=2, trust_env=False)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.json().get("status") == "ok"

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, as when the kernel or an orchestrator kills it."""
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        self._process.wait(timeout=30)
        self._process = None

    def stop(self) -> None:
        """SIGTERM: uvicorn's graceful shutdown (lifespan shutdown: our writers flush)."""
        if self._process is None:
            return
        process, self._process = self._process, None
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
