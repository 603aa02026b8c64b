"""Money under concurrency, on PostgreSQL (SQLite serialises writers and would hide races)."""

import json
import os
import subprocess
import sys
import time
from collections import Counter

import pytest
from django.conf import settings
from django.db import connection

from accounts.models import ApiKey
from marketplace.models import AccountKind, LedgerTransaction, UsageRecord
from marketplace.services import ledger
from tests.marketplace.charge_burst import fire

pytestmark = pytest.mark.django_db(transaction=True)

CALL_COST = 1000  # 100 prompt + 100 completion tokens at 4 credits per 1M each, in micro-credits


def require_postgresql():
    if connection.vendor != "postgresql":
        pytest.fail("concurrency tests need PostgreSQL: run them with DATABASE_URL=postgres://... (make test does)")


def burst(*, processes: int, calls: int, threads: int, user, api_key, model) -> Counter:
    """Run the calls split across `processes` separate Python processes, all starting at the same instant."""
    database = connection.settings_dict
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    start_at = time.time() + 4
    commands = [
        [sys.executable, "-m", "tests.marketplace.charge_burst", "--user", str(user.pk), "--key", str(api_key.pk),
         "--model", str(model.pk), "--calls", str(calls // processes), "--threads", str(threads),
         "--prompt", "100", "--max-tokens", "100", "--start-at", str(start_at)]
        for _ in range(processes)
    ]  # fmt: skip
    running = [
        subprocess.Popen(command, env=env, cwd=settings.BASE_DIR, stdout=subprocess.PIPE, text=True)
        for command in commands
    ]
    total: Counter = Counter()
    for process in running:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0, out
        total.update(json.loads(out.strip().splitlines()[-1]))
    return total


def test_200_concurrent_charges_against_credit_for_100_admit_exactly_100(consumer, provider, make_key, cheap_listing):
    require_postgresql()
    ledger.top_up(user=consumer, amount=100 * CALL_COST)
    make_key(consumer, scopes=("infer",))
    api_key = ApiKey.objects.get(user=consumer)
    outcomes = fire(user=consumer, api_key=api_key, model=cheap_listing.model, calls=200, threads=40, prompt=100,
                    max_tokens=100)  # fmt: skip

    assert outcomes == {"admitted": 100, "insufficient_quota": 100}
    wallet = ledger.account_for(consumer.pk, AccountKind.WALLET)
    assert (wallet.balance, wallet.held) == (0, 0)
    assert UsageRecord.objects.filter(cost=CALL_COST).count() == 100
    assert LedgerTransaction.objects.filter(kind="charge").count() == 100
    earnings = ledger.account_for(provider.pk, AccountKind.EARNINGS).balance
    fees = ledger.account_for(None, AccountKind.PLATFORM_FEES).balance
    assert (earnings, fees) == (100 * 800, 100 * 200)  # consumers' debit minus the 20% fee
    report = ledger.audit_ledger()
    assert report.ok, report.problems


def test_spend_cap_holds_across_two_processes(consumer, make_key, cheap_listing):
    require_postgresql()
    ledger.top_up(user=consumer, amount=1000 * CALL_COST)
    make_key(consumer, scopes=("infer",))
    api_key = ApiKey.objects.get(user=consumer)
    ApiKey.objects.filter(pk=api_key.pk).update(spend_limit=30 * CALL_COST, spend_period="day")

    outcomes = burst(processes=2, calls=120, threads=12, user=consumer, api_key=api_key, model=cheap_listing.model)

    assert outcomes == {"admitted": 30, "insufficient_quota": 90}
    assert ledger.account_for(consumer.pk, AccountKind.WALLET).balance == 970 * CALL_COST
    assert UsageRecord.objects.count() == 30
    assert ledger.audit_ledger().ok


def test_rate_limit_admits_exactly_its_limit_across_four_processes(consumer, make_key, cheap_listing):
    require_postgresql()
    ledger.top_up(user=consumer, amount=1000 * CALL_COST)
    make_key(consumer, scopes=("infer",))
    api_key = ApiKey.objects.get(user=consumer)
    ApiKey.objects.filter(pk=api_key.pk).update(rpm_limit=10)

    outcomes = burst(processes=4, calls=60, threads=15, user=consumer, api_key=api_key, model=cheap_listing.model)

    assert outcomes == {"admitted": 10, "rate_limit_exceeded": 50}
    assert UsageRecord.objects.count() == 10
