"""The concurrent-charging mix that deadlocked PostgreSQL (issue #10, finding 3): many simultaneous calls with one
key, half of them settled with one token and half released (refused after their hold, as calls over the context
length are). Every call must end charged or released: no deadlock, no open reservation, books that balance."""

import threading
from collections import Counter

import pytest
from django.db import connection, connections

from marketplace.models import AccountKind, Reservation, UsageRecord
from marketplace.money import MICRO
from marketplace.services import ledger, metering

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS, CALLS = 30, 32
CALL_COST = 30  # 5 prompt tokens and 1 completion token at 5 credits per 1M each, in micro-credits


def one_round(*, user, api_key, model) -> Counter:
    """CALLS threads start together; even ones settle a 1-token call, odd ones release theirs."""
    outcomes: Counter = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(CALLS)

    def call(index: int) -> None:
        barrier.wait()
        try:
            granted = metering.authorize(user=user, api_key=api_key, model=model, prompt_tokens=20, max_tokens=300)
            if index % 2 == 0:
                metering.settle(request_id=granted.request_id, prompt_tokens=5, completion_tokens=1)
                outcome = "settled"
            else:
                metering.release(request_id=granted.request_id)
                outcome = "released"
        except Exception as exc:  # a deadlock, or anything else: counted, and the test fails on it
            outcome = type(exc).__name__
        finally:
            connections.close_all()
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=call, args=(index,)) for index in range(CALLS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_simultaneous_settles_and_releases_on_one_key_never_deadlock_and_all_are_charged(
    consumer, make_key, provider_model, cheap_listing
):
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL: run it with DATABASE_URL=postgres://... (make test does)")
    from accounts.services import authenticate_key, set_key_limits

    ledger.top_up(user=consumer, amount=100 * MICRO)
    api_key = authenticate_key(raw_key=make_key(consumer, scopes=("infer",)))
    api_key = set_key_limits(user=consumer, key_id=api_key.pk, rpm_limit=100_000, tpm_limit=100_000_000,
                             spend_limit=50 * MICRO, spend_period="day")  # fmt: skip

    total: Counter = Counter()
    for _ in range(ROUNDS):
        total.update(one_round(user=consumer, api_key=api_key, model=provider_model))

    assert total == {"settled": ROUNDS * CALLS // 2, "released": ROUNDS * CALLS // 2}
    assert Reservation.objects.count() == 0
    charged = UsageRecord.objects.filter(status="ok")
    assert charged.count() == ROUNDS * CALLS // 2 and set(charged.values_list("cost", flat=True)) == {CALL_COST}
    wallet = ledger.account_for(consumer.pk, AccountKind.WALLET)
    assert (wallet.balance, wallet.held) == (100 * MICRO - ROUNDS * CALLS // 2 * CALL_COST, 0)
    assert ledger.audit_ledger().ok


def test_a_settle_whose_database_connection_dropped_is_retried_and_charged(
    consumer, make_key, provider_model, cheap_listing
):
    """The served call must be charged once, not dropped, when the database goes away under the settle."""
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL: run it with DATABASE_URL=postgres://... (make test does)")
    import psycopg

    ledger.top_up(user=consumer, amount=MICRO)
    granted = metering.authorize(user=consumer, api_key=None, model=provider_model, prompt_tokens=5, max_tokens=1)
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    database = connection.settings_dict
    with psycopg.connect(host=database["HOST"], port=database["PORT"], user=database["USER"],
                         dbname=database["NAME"], autocommit=True) as other:  # fmt: skip
        other.execute("SELECT pg_terminate_backend(%s)", [pid])

    record = metering.settle(request_id=granted.request_id, prompt_tokens=5, completion_tokens=1)

    assert connection.connection.info.backend_pid != pid  # it reconnected
    assert (record.status, record.cost) == ("ok", CALL_COST)
    assert UsageRecord.objects.get().cost == CALL_COST and Reservation.objects.count() == 0
    wallet = ledger.account_for(consumer.pk, AccountKind.WALLET)
    assert (wallet.balance, wallet.held) == (MICRO - CALL_COST, 0)
    assert ledger.audit_ledger().ok
