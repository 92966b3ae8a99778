"""Fixtures of the hardening suite: the middleware suite's host app and policy, and a
PostgreSQL server of the test's own that it may stop."""

from tests.middleware.conftest import clock, policy_file  # noqa: F401 - fixtures

from .postgres_server import private_postgres  # noqa: F401 - fixture
