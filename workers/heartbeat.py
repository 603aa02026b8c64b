"""An infer worker's heartbeat: `infer:worker:<id>` kept alive (the gateway watches it for a call's worker) and
this worker's score in `infer:workers` kept fresh (the gateway refuses calls at once when no worker beat lately),
once a second from the worker's start (workers/signals.py) or its first call until it stops."""

import logging
import os
import socket
import threading
import time

import redis

from serving.protocol import WORKER_HEARTBEAT_TTL_SECONDS, WORKERS_KEY, backend_workers_key, worker_key

logger = logging.getLogger(__name__)
BACKEND = "batching"  # the inference backend these workers run (workers/inference.py)


def redis_client() -> redis.Redis:
    from workers.inference import redis_client as shared  # the infer worker's one connection pool

    return shared()


class Heartbeat:
    """Keeps `infer:worker:<id>` alive (the gateway watches it for a call's worker) and this worker's score in
    `infer:workers` fresh (the gateway refuses calls when no worker beat lately), once a second until stopped."""

    def __init__(self, worker_id: str):
        self.worker_id = worker_id
        self._stopped = threading.Event()

    def beat(self) -> None:
        pipeline = redis_client().pipeline()
        pipeline.set(worker_key(self.worker_id), 1, ex=WORKER_HEARTBEAT_TTL_SECONDS)
        now = time.time()
        for key in (WORKERS_KEY, backend_workers_key(BACKEND)):
            pipeline.zadd(key, {self.worker_id: now})
            pipeline.zremrangebyscore(key, "-inf", now - 60)  # workers long gone
        pipeline.execute()

    def start(self) -> None:
        self.beat()

        def run() -> None:
            while not self._stopped.wait(1):
                try:
                    self.beat()
                except redis.RedisError as exc:
                    logger.warning("infer heartbeat failed: %s", exc)

        threading.Thread(target=run, name="infer-heartbeat", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()
        try:
            redis_client().delete(worker_key(self.worker_id))
            redis_client().zrem(WORKERS_KEY, self.worker_id)
            redis_client().zrem(backend_workers_key(BACKEND), self.worker_id)
        except redis.RedisError as exc:
            logger.warning("could not withdraw infer worker %s: %s", self.worker_id, exc)


_heartbeats: list[Heartbeat] = []
_heartbeat_lock = threading.Lock()


def heartbeat() -> str:
    """This process's worker id, beating from the worker's start (workers/signals.py) or its first call on."""
    with _heartbeat_lock:
        if not _heartbeats:
            running = Heartbeat(f"{socket.gethostname()}:{os.getpid()}")
            running.start()
            _heartbeats.append(running)
        return _heartbeats[0].worker_id


def stop_heartbeat() -> None:
    """The worker is shutting down: it takes no more calls, so the gateway should stop sending them."""
    with _heartbeat_lock:
        while _heartbeats:
            _heartbeats.pop().stop()
