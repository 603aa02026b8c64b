"""Fault tests: real processes, killed and restarted. They reuse the marketplace's fixtures (a provider's model
with a valid commit, fresh rate counters) and add a Redis server of their own on a free port."""

import subprocess
import time

import pytest
import redis

from tests.conftest import free_port
from tests.marketplace.conftest import _fresh_rate_counters, cheap_listing, provider_model  # noqa: F401 (fixtures)


class OwnRedis:
    """A `redis-server` this test started on a free port, that it may kill (SIGKILL) and start again there."""

    def __init__(self, directory):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                # the server we started answers, not another one on the port: its process id is ours
                if redis.Redis.from_url(self.url).info("server")["process_id"] == self.process.pid:
                    return
            except redis.ConnectionError:
                pass
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path, settings):
    """Every part of the store (gateway, rate limits, Celery, the in-process infer worker) on a Redis of this
    test's own, started; restored to the test Redis afterwards."""
    original = settings.REDIS_URL
    server = OwnRedis(tmp_path)
    server.start()
    point_everything_at(server.url, settings)
    yield server
    if server.process.poll() is None:
        server.kill()
    point_everything_at(original, settings)


def point_everything_at(url: str, settings_fixture) -> None:
    from marketplace.services import limits
    from serving import gateway
    from workers import inference
    from workers.celery import app

    settings_fixture.REDIS_URL = url
    app.conf.broker_url = url
    app._pool = app.amqp._producer_pool = None
    gateway._redis.cache_clear()
    limits.reset_clients()
    inference.redis_client.cache_clear()
    inference.relay.cache_clear()
