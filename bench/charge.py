"""What charging adds to a call: authorize (rate limits + spend cap in Redis, a hold in PostgreSQL) plus settle
(the ledger transaction, usage record and rollups), against the same authenticated API request without them,
measured in the same run on a scratch PostgreSQL database and Redis database 8.

Last line: added_ms_p50=X added_ms_p99=Y"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CALLS = int(os.environ.get("BENCH_CHARGE_CALLS", 2000))
DATABASE = "gptstore_bench_charge"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    sys.path.insert(0, str(ROOT))
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE IF EXISTS {DATABASE}"], check=True
    )
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {DATABASE}"], check=True)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        REDIS_URL="redis://127.0.0.1:6379/8",
        LOG_LEVEL="WARNING",
        ALLOWED_HOSTS="testserver",
        HTTPS="0",  # the test client speaks plain http
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from accounts import services as accounts
    from marketplace.money import MICRO
    from marketplace.services import ledger, limits, listings, metering
    from registry import services as registry
    from registry.models import Commit, Ref, RefKind, ValidationStatus

    call_command("migrate", verbosity=0)
    limits.client().flushdb()
    provider = accounts.create_user(username="provider", password="bench-password-1")
    consumer = accounts.create_user(username="consumer", password="bench-password-1")
    model = registry.create_model(owner=provider, name="bench-gpt")
    commit = Commit.objects.create(
        model=model, sha="b" * 40, message="bench", author=provider, validation_status=ValidationStatus.VALID,
        validated_at=timezone.now(),
    )  # fmt: skip
    Ref.objects.create(model=model, kind=RefKind.BRANCH, name="main", commit=commit)
    listing = listings.save_listing(model=model, by=provider, title="Bench GPT", license="mit")
    listings.set_prices(listing=listing, by=provider, prompt_price="2", completion_price="6")
    listings.review_listing(listing_id=listing.pk, approve=True)
    ledger.top_up(user=consumer, amount=1_000_000 * MICRO)
    api_key, secret = accounts.create_api_key(user=consumer, name="bench", scopes=["infer", "read"])
    api_key.rpm_limit, api_key.tpm_limit, api_key.spend_limit, api_key.spend_period = 10**6, 10**9, 10**15, "day"
    api_key.save()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def request_only() -> float:
        started = time.perf_counter()
        response = client.get("/api/v1/credits")
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.content
        return elapsed

    def request_with_charge() -> float:
        started = time.perf_counter()
        response = client.get("/api/v1/credits")
        assert response.status_code == 200, response.content
        charge_started = time.perf_counter()
        granted = metering.authorize(user=consumer, api_key=api_key, model=model, prompt_tokens=50, max_tokens=64)
        metering.settle(request_id=granted.request_id, prompt_tokens=50, completion_tokens=64, latency_ms=1)
        finished = time.perf_counter()
        return finished - started, finished - charge_started

    for _ in range(100):  # warm connections, caches and the Lua scripts
        request_only()
        request_with_charge()
    plain, charged, added = [], [], []
    for _ in range(CALLS):  # interleaved, so both see the same machine noise
        plain.append(request_only())
        total, charge = request_with_charge()
        charged.append(total)
        added.append(charge)
    report = ledger.audit_ledger()
    assert report.ok, report.problems
    ms = 1000
    print(
        f"calls={CALLS} request_ms_p50={statistics.median(plain) * ms:.2f} "
        f"request_with_charge_ms_p50={statistics.median(charged) * ms:.2f} "
        f"ratio_p50={statistics.median(charged) / statistics.median(plain):.2f}"
    )
    print(f"added_ms_p50={statistics.median(added) * ms:.2f} added_ms_p99={percentile(added, 0.99) * ms:.2f}")
    limits.client().flushdb()
    from django.db import connections

    connections.close_all()
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE IF EXISTS {DATABASE}"], check=True
    )


if __name__ == "__main__":
    main()
