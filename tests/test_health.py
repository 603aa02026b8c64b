"""/healthz and /readyz (issue #29): alive, and ready only while the database, Redis and storage answer."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_answers_while_the_process_runs():
    answer = Client().get("/healthz")

    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})


def test_readyz_checks_the_database_redis_and_storage():
    answer = Client().get("/readyz")

    assert answer.status_code == 200
    assert answer.json()["status"] == "ready"
    assert {name: check["ok"] for name, check in answer.json()["checks"].items()} == {
        "database": True, "redis": True, "storage": True}  # fmt: skip
    assert answer["Cache-Control"] == "no-store"


def test_readyz_answers_503_naming_redis_when_it_is_down(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    answer = Client().get("/readyz")

    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"] == {"ok": False, "error": "ConnectionError"}
    assert body["checks"]["database"]["ok"] is True and body["checks"]["storage"]["ok"] is True


def test_the_probes_refuse_other_methods():
    assert Client().post("/healthz").status_code == 405
    assert Client().post("/readyz").status_code == 405
