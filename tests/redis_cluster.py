"""Redis servers the tests start themselves: a 3-master Redis Cluster on loopback ports,
and single servers that a test may stop and start (the shared 6379 is never touched).

Needs `redis-server` and `redis-cli` on PATH; without them the tests that use these
fixtures skip (or fail under CI=true), like every other missing service.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import unavailable

CLUSTER_PORTS = (7101, 7102, 7103)
SPARE_PORT = 7201
_START_TIMEOUT = 15.0


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def free_ports(first: int, count: int, *, last: int) -> tuple[int, ...]:
    """`count` consecutive free loopback ports from `first` (another run may hold some)."""
    port = first
    while port + count - 1 <= last:
        ports = tuple(range(port, port + count))
        if all(_port_free(p) for p in ports):
            return ports
        port += count
    raise RuntimeError(f"no {count} free loopback ports between {first} and {last}")


def _cli(*args: str, timeout: float = 30.0) -> str:
    done = subprocess.run(
        ["redis-cli", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"redis-cli {' '.join(args)} failed: {done.stderr or done.stdout}")
    return done.stdout


class RedisServer:
    """One `redis-server` on a loopback port, with its data in `directory`. With `durable`
    it keeps an fsync-always append-only file, so a stop and start loses no write."""

    def __init__(
        self, port: int, directory: Path, *, cluster: bool = False, durable: bool = False, extra: tuple[str, ...] = ()
    ) -> None:
        self.port = port
        self.directory = directory
        self.cluster = cluster
        self.durable = durable
        self.extra = extra  # more redis-server arguments (e.g. a renamed command)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--protected-mode", "no",
            "--logfile", "redis.log",
        ]
        if self.durable:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        if self.cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
            args += ["--cluster-node-timeout", "2000"]
        args += self.extra
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            try:
                if _cli("-p", str(self.port), "ping", timeout=2).strip() == "PONG":
                    return
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
            if self._process.poll() is not None or time.monotonic() > deadline:
                log = (self.directory / "redis.log")
                raise RuntimeError(
                    f"redis-server on {self.port} did not start: "
                    f"{log.read_text()[-2000:] if log.exists() else 'no log'}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server the way an operator would (SIGTERM: clean shutdown)."""
        if self._process is None:
            return
        process, self._process = self._process, None
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _require_redis_binaries() -> None:
    missing = [b for b in ("redis-server", "redis-cli") if shutil.which(b) is None]
    if missing:
        unavailable("Redis binaries", f"{', '.join(missing)} not on PATH")


class RedisClusterRun:
    """Three masters, no replicas: every slot covered, as small as a real Cluster gets."""

    def __init__(self, directory: Path, ports: tuple[int, ...] = CLUSTER_PORTS) -> None:
        self.servers = [RedisServer(p, directory / str(p), cluster=True) for p in ports]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.servers[0].port}"

    def start(self) -> None:
        try:
            for server in self.servers:
                server.start()
            nodes = [f"127.0.0.1:{s.port}" for s in self.servers]
            _cli("--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes", timeout=60)
            deadline = time.monotonic() + _START_TIMEOUT
            while not all(
                "cluster_state:ok" in _cli("-p", str(s.port), "cluster", "info") for s in self.servers
            ):
                if time.monotonic() > deadline:
                    raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")
                time.sleep(0.1)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh 3-master Redis Cluster for this session, torn down at the end."""
    _require_redis_binaries()
    ports = free_ports(CLUSTER_PORTS[0], 3, last=7199)
    cluster = RedisClusterRun(tmp_path_factory.mktemp("redis-cluster"), ports)
    try:
        cluster.start()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        unavailable("Redis Cluster", exc)
    yield cluster.url
    cluster.stop()


@pytest.fixture
def spare_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A durable Redis server of this test's own, which the test may stop and start."""
    _require_redis_binaries()
    (port,) = free_ports(SPARE_PORT, 1, last=7299)
    server = RedisServer(port, tmp_path / "redis", durable=True)
    try:
        server.start()
    except (RuntimeError, OSError) as exc:
        unavailable("redis-server", exc)
    yield server
    server.stop()
