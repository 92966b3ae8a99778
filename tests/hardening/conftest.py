"""Fixtures of the hardening suite: the middleware suite's host app and policy, and the
servers a fault test may stop (a private PostgreSQL, a spare Redis)."""

from tests.middleware.conftest import clock, policy_file  # noqa: F401 - fixtures
from tests.redis_cluster import spare_redis  # noqa: F401 - fixture

from .postgres_server import private_postgres  # noqa: F401 - fixture
