"""Fixtures every test folder may use: ``redis_url``, a redis-server of the test's own
(:mod:`tests.redis_server`)."""

from tests.redis_server import redis_url

__all__ = ["redis_url"]
