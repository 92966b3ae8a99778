"""A PostgreSQL server of a test's own, which the test may stop and start.

The shared server on 5432 is never stopped (other suites use it): a fault test gets a
private cluster (`initdb` into a temporary directory, a free loopback port, trust auth).
PostgreSQL refuses to run as root, so when the suite runs as root the cluster belongs to
the `postgres` system user and its commands run through `runuser`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import unavailable

_TIMEOUT = 60


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One private PostgreSQL cluster on a loopback port. `stop()` is a fast shutdown
    (connections are cut, as in an outage); `start()` brings the same data back."""

    def __init__(self, binaries: Path, directory: Path, port: int) -> None:
        self.binaries = binaries
        self.directory = directory
        self.port = port
        self._user: str | None = None
        if os.geteuid() == 0:
            self._user = "postgres"

    def url(self, database: str = "postgres", *, password: str | None = None) -> str:
        secret = f":{password}" if password is not None else ""
        return f"postgresql+asyncpg://postgres{secret}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        command = [str(self.binaries / args[0]), *args[1:]]
        if self._user is not None:
            command = ["runuser", "-u", self._user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=_TIMEOUT, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stderr.strip() or done.stdout.strip()}")

    def initialise(self) -> None:
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.directory / "log"), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def stop_quietly(self) -> None:
        try:
            self.stop()
        except (RuntimeError, subprocess.TimeoutExpired):
            pass


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    """A running private PostgreSQL cluster, stopped and removed afterwards."""
    binaries = _binaries()
    if binaries is None:
        unavailable("PostgreSQL binaries", "initdb not found (install postgresql)")
    assert binaries is not None
    # Not pytest's tmp_path: that directory is private to root, and the server may run as
    # another user who must be able to reach its data directory.
    directory = Path(tempfile.mkdtemp(prefix="sa-pg-"))
    server = PostgresServer(binaries, directory, free_port())
    try:
        server.initialise()
        server.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(directory, ignore_errors=True)
        unavailable("private PostgreSQL", exc)
    yield server
    server.stop_quietly()
    shutil.rmtree(directory, ignore_errors=True)
