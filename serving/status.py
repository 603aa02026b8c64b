"""Which infer workers are running, from their heartbeats in Redis (workers/inference.py beats once a second):
what the status page shows (the gateway's `admit_to_queue` applies the same rule in Redis)."""

import time
from dataclasses import dataclass
from typing import cast

import redis
from django.shortcuts import render
from django.views.decorators.http import require_GET

from serving import gateway, protocol


@dataclass(frozen=True)
class WorkerSeen:
    worker_id: str
    seconds_ago: float

    @property
    def is_alive(self) -> bool:
        return self.seconds_ago <= protocol.WORKER_HEARTBEAT_TTL_SECONDS


def infer_workers() -> list[WorkerSeen] | None:
    """The infer workers seen in the last minute, newest beat first; None when Redis cannot be reached."""
    now = time.time()
    try:
        seen = cast(list[tuple[str, float]],
                    gateway._redis().zrangebyscore(protocol.WORKERS_KEY, now - 60, "+inf", withscores=True))  # fmt: skip
    except redis.RedisError:
        return None
    return sorted((WorkerSeen(str(worker_id), round(now - beat, 1)) for worker_id, beat in seen),
                  key=lambda worker: worker.seconds_ago)  # fmt: skip


@require_GET
def status_page(request):
    """GET /status: whether calls can be served now, for people (operators and callers who got a 503)."""
    workers = infer_workers()
    alive = [worker for worker in workers or () if worker.is_alive]
    return render(request, "serving/status.html", {"workers": workers, "alive": alive})
