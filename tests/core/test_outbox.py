"""Domain events through the outbox (#24): each is written in the transaction of the change it reports (rolled back
with it), consumed by a worker with retries and backoff, and given up after MAX_ATTEMPTS; the store records a
commit validated, a listing published or suspended, a job's status changed and a low balance."""

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from core import outbox
from core.models import OutboxEvent
from jobs import leases
from jobs.models import JobStatus
from marketplace.models import ConsumerUsageDaily
from marketplace.money import MICRO
from marketplace.services import alerts, ledger, listings
from registry import validation
from registry.models import ValidationStatus
from tests.conftest import record_evaluation, wait_until
from tests.marketplace.conftest import add_commit, submitted_listing
from tests.training.test_leases import make_job  # noqa: F401  (a fixture)
from training import jobs

pytestmark = pytest.mark.django_db
seen: list[tuple[str, dict]] = []


@outbox.consumer("test.flaky")
def flaky(event: OutboxEvent) -> None:
    """A consumer registered from this module: it fails while the event asks it to."""
    if event.attempts < event.payload["fail_times"]:
        raise ConnectionError(f"down (attempt {event.attempts + 1})")
    seen.append((event.kind, event.payload))


@outbox.consumer("test.bad_query")
def bad_query(event: OutboxEvent) -> None:
    """A consumer whose database write fails (a NOT NULL column left null)."""
    OutboxEvent.objects.create(kind=None)


def events() -> list[tuple[str, dict]]:
    return [(e.kind, e.payload) for e in OutboxEvent.objects.order_by("id")]


def test_an_event_commits_or_rolls_back_with_its_change():
    def failing_change():
        with transaction.atomic():
            outbox.record("test.flaky", fail_times=0)
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    assert events() == []

    with transaction.atomic():
        outbox.record("test.flaky", fail_times=0)
    assert events() == [("test.flaky", {"fail_times": 0})]


def test_a_transaction_nudges_the_worker_once_however_many_events_it_records(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as nudges, transaction.atomic():
        for number in range(3):
            outbox.record("test.flaky", fail_times=number)
        try:
            with transaction.atomic():  # a savepoint rolled back takes its own nudge with it, not the outer one
                outbox.record("test.flaky", fail_times=9)
                raise RuntimeError("inner change failed")
        except RuntimeError:
            pass

    assert [callback.__name__ for callback in nudges] == ["_nudge"]
    assert [payload["fail_times"] for _, payload in events()] == [0, 1, 2]


def test_a_failing_consumer_is_retried_with_backoff_then_delivered():
    seen.clear()
    event = outbox.record("test.flaky", fail_times=2)
    now = timezone.now()

    assert outbox.deliver_due(now=now) == 0
    event.refresh_from_db()
    assert (event.attempts, event.last_error, event.delivered_at) == (1, "ConnectionError: down (attempt 1)", None)
    assert outbox.deliver_due(now=now) == 0  # not due: one second of backoff
    assert outbox.deliver_due(now=now + dt.timedelta(seconds=2)) == 0  # fails again, now two seconds
    assert outbox.deliver_due(now=now + dt.timedelta(seconds=3)) == 0
    assert outbox.deliver_due(now=now + dt.timedelta(seconds=10)) == 1

    event.refresh_from_db()
    assert (event.attempts, event.failed_at is None, event.delivered_at is not None) == (3, True, True)
    assert seen == [("test.flaky", {"fail_times": 2})]
    assert outbox.deliver_due(now=now + dt.timedelta(days=1)) == 0  # delivered once, never again


def test_an_event_that_keeps_failing_is_given_up_and_kept():
    seen.clear()
    event = outbox.record("test.flaky", fail_times=99)
    later = timezone.now()
    for _ in range(outbox.MAX_ATTEMPTS):
        later += dt.timedelta(hours=1)
        outbox.deliver_due(now=later)

    event.refresh_from_db()
    assert (event.attempts, event.delivered_at, event.failed_at is not None) == (outbox.MAX_ATTEMPTS, None, True)
    assert outbox.deliver_due(now=later + dt.timedelta(days=1)) == 0 and seen == []


def test_the_store_records_its_domain_events(provider, consumer, make_job, settings):
    settings.REVIEW_LISTINGS, settings.LOW_BALANCE_CREDITS = True, 2
    job, queued = make_job(provider), make_job(provider)  # alice/tiny-gpt, whose commit is valid; jobs queued
    commit = add_commit(job.base_model, message="to validate", status=ValidationStatus.PENDING)
    assert validation.claim_validation(commit_id=commit.pk, task_id="t1")
    validation.finish_validation(commit_id=commit.pk, task_id="t1", report={"ok": True})
    record_evaluation(commit)  # what the evaluation job would record (no outbox worker runs here)
    listing = submitted_listing(provider, job.base_model, prompt_price="1", completion_price="1")
    listings.review_listing(listing_id=listing.pk, approve=True)
    listings.review_listing(listing_id=listing.pk, approve=False, reason="spam")
    claimed = leases.claim_job(worker="w1")
    leases.finish_job(claimed, status=JobStatus.SUCCEEDED, units=0)
    jobs.pause_job(user=provider, job_id=queued.public_id)
    ledger.top_up(user=consumer, amount=MICRO)
    ConsumerUsageDaily.objects.create(day=timezone.now().date(), user=consumer, model_label="x/y", requests=1)
    alerts.warn_low_balances()

    assert events() == [
        ("commit.validated", {"commit_id": commit.pk, "valid": True}),
        ("listing.published", {"listing_id": listing.pk, "model": "alice/tiny-gpt", "reason": ""}),
        ("listing.suspended", {"listing_id": listing.pk, "model": "alice/tiny-gpt", "reason": "spam"}),
        ("job.status_changed", {"job": job.public_id, "status": "running", "owner_id": provider.pk}),
        ("job.status_changed", {"job": job.public_id, "status": "succeeded", "owner_id": provider.pk}),
        ("job.status_changed", {"job": queued.public_id, "status": "paused", "owner_id": provider.pk}),
        ("balance.low", {"user_id": consumer.pk, "spendable": MICRO}),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_worker_delivers_what_a_committed_change_recorded(celery_worker):
    seen.clear()
    with transaction.atomic():
        outbox.record("test.flaky", fail_times=0)  # its commit nudges the `default` queue

    wait_until(lambda: OutboxEvent.objects.filter(delivered_at__isnull=False).count() == 1, timeout=30)
    assert seen == [("test.flaky", {"fail_times": 0})]


def test_a_consumer_whose_query_fails_is_retried_and_the_batch_goes_on():
    seen.clear()
    broken = outbox.record("test.bad_query")
    fine = outbox.record("test.flaky", fail_times=0)

    assert outbox.deliver_due() == 1  # the second event of the batch is delivered all the same

    broken.refresh_from_db()
    fine.refresh_from_db()
    assert (broken.attempts, broken.delivered_at, broken.last_error.startswith("IntegrityError")) == (1, None, True)
    assert fine.delivered_at is not None and seen == [("test.flaky", {"fail_times": 0})]
    assert OutboxEvent.objects.count() == 2  # nothing the broken consumer wrote was kept
