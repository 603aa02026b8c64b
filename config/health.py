"""Probes for a load balancer or an orchestrator (issue #29): `/healthz` says the process answers; `/readyz` says it
can serve, checking what every request may need: the database, Redis and blob storage, each within a second."""

import time

import redis
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

PROBE_SECONDS = 1.0


@require_GET
def healthz(_request: HttpRequest) -> JsonResponse:
    """GET /healthz: 200 while the process answers at all."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(_request: HttpRequest) -> JsonResponse:
    """GET /readyz: 200 with each check's milliseconds when all pass, else 503 naming what failed (never why in
    detail: the answer is public)."""
    checks = {"database": _database, "redis": _redis, "storage": _storage}
    results: dict[str, dict] = {}
    for name, check in checks.items():
        started = time.perf_counter()
        try:
            check()
            results[name] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
        except Exception as exc:  # any failure of a dependency is "not ready", never a 500
            results[name] = {"ok": False, "error": type(exc).__name__}
    ready = all(result["ok"] for result in results.values())
    response = JsonResponse({"status": "ready" if ready else "unavailable", "checks": results},
                            status=200 if ready else 503)  # fmt: skip
    response["Cache-Control"] = "no-store"
    return response


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _redis() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=PROBE_SECONDS,
                                  socket_connect_timeout=PROBE_SECONDS)  # fmt: skip
    try:
        client.ping()
    finally:
        client.close()


def _storage() -> None:
    default_storage.exists(".readyz")  # a metadata lookup: a filesystem stat, an S3 HEAD
