"""Jobs under cancel, lost workers and long pauses (issue #22, item 8): a cancel stops the next step and charges
only what was trained before it; a job whose worker died is requeued by the reaper with an event within
JOB_LEASE_SECONDS + REAP_JOBS_SECONDS (20 + 10 s by default, under the 60 s promised); a paused job keeps its hold
for MAX_PAUSE_SECONDS and is then cancelled and settled, never trained for free."""

import datetime as dt
import json

import pytest
from django.conf import settings
from django.utils import timezone

from files import services as files
from jobs import leases, reaper, runner
from jobs.models import JobStatus
from marketplace.models import AccountKind, LedgerEntry, Reservation
from marketplace.money import MICRO
from marketplace.services import ledger, metering
from marketplace.services.job_charges import training_cost
from training import jobs
from training.models import FineTuningJob

pytestmark = pytest.mark.django_db(transaction=True)
EXAMPLES = "\n".join(json.dumps({"prompt": f"Q{i}:", "completion": f" answer {i}"}) for i in range(12)).encode()


@pytest.fixture
def job(provider, served_commit):
    """alice's fine-tune of alice/tiny-gpt: 12 examples, batch 1, 5 epochs (60 steps), its estimate held."""
    ledger.top_up(user=provider, amount=10 * MICRO)
    data = files.create_file(user=provider, filename="qa.jsonl", purpose="fine-tune", data=EXAMPLES)
    return jobs.create_job(user=provider, api_key=None, model="alice/tiny-gpt", training_file=data.public_id,
                           hyperparameters={"n_epochs": 5, "batch_size": 1}, seed=1)  # fmt: skip


def wallet(user) -> tuple[int, int]:
    account = ledger.account_for(user.pk, AccountKind.WALLET)
    return account.balance, account.held


def messages(job) -> list[str]:
    return [event.message for event in job.events.order_by("id")]


def test_a_cancel_stops_the_next_step_and_charges_what_was_trained_before_it(job, provider, monkeypatch):
    """The owner cancels when step 10's metrics arrive; before, the worker read it up to 2 s later (40 steps on)."""
    reported = {}
    record = leases.record_progress

    def cancel_at_step_10(claimed, **progress):
        record(claimed, **progress)
        if progress["step"] == 10:
            reported.update(progress["data"])
            jobs.cancel_job(user=provider, job_id=claimed.public_id)

    monkeypatch.setattr(leases, "record_progress", cancel_at_step_10)
    claimed = leases.claim_job(worker=runner.WORKER)
    runner.run_job(claimed)

    done = FineTuningJob.objects.get(pk=job.pk)
    assert done.status == JobStatus.CANCELLED
    assert done.trained_tokens == reported["tokens"] > 0
    cost = training_cost(reported["tokens"])
    assert wallet(provider) == (10 * MICRO - cost, 0)
    assert messages(done)[-2:] == ["Cancelling: the job stops at its next step",
                                   f"Job cancelled ({reported['tokens']} tokens trained, {cost / MICRO:.6f} credits "
                                   "charged)"]  # fmt: skip


def test_a_job_whose_worker_died_is_requeued_with_an_event(job, provider):
    claimed = leases.claim_job(worker="dead-worker")
    FineTuningJob.objects.filter(pk=claimed.pk).update(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))

    assert reaper.reap_lost_jobs() == 1

    requeued = FineTuningJob.objects.get(pk=job.pk)
    assert (requeued.status, requeued.lease_owner, requeued.attempts) == (JobStatus.QUEUED, "", 1)
    assert messages(requeued)[-1] == "Worker lost, retrying (attempt 2)"
    again = leases.claim_job(worker="new-worker")
    assert (again.pk, again.attempts, messages(again)[-1]) == (job.pk, 2, "Fine-tuning started (attempt 2)")
    assert settings.JOB_LEASE_SECONDS + settings.REAP_JOBS_SECONDS <= 30  # the defaults: restarted within 60 s


def test_a_job_that_lost_its_last_attempt_fails_and_gives_the_hold_back(job, provider):
    for _ in range(settings.MAX_JOB_ATTEMPTS):
        FineTuningJob.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED)
        leases.claim_job(worker="doomed")
    FineTuningJob.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))

    assert reaper.reap_lost_jobs() == 1

    failed = FineTuningJob.objects.get(pk=job.pk)
    assert (failed.status, failed.error["code"]) == (JobStatus.FAILED, "worker_lost")
    assert wallet(provider) == (10 * MICRO, 0) and Reservation.objects.count() == 0


def test_a_paused_job_keeps_its_hold_then_is_cancelled_and_settled(job, provider):
    jobs.pause_job(user=provider, job_id=job.public_id)
    FineTuningJob.objects.filter(pk=job.pk).update(units_done=120)
    Reservation.objects.filter(request_id=job.public_id).update(expires_at=timezone.now() - dt.timedelta(days=1))

    assert metering.void_stale_reservations() == 0  # a call's stale hold goes; a job's stays with its job
    assert reaper.expire_paused_jobs() == 0  # paused for less than MAX_PAUSE_SECONDS
    assert wallet(provider) == (10 * MICRO, job.held)

    later = timezone.now() + dt.timedelta(seconds=settings.MAX_PAUSE_SECONDS + 1)
    assert reaper.expire_paused_jobs(now=later) == 1

    ended = FineTuningJob.objects.get(pk=job.pk)
    assert ended.status == JobStatus.CANCELLED
    assert messages(ended)[-2] == (
        "Paused for longer than 7 days: the job is cancelled and its hold settled")  # fmt: skip
    assert wallet(provider) == (10 * MICRO - training_cost(120), 0)
    assert LedgerEntry.objects.filter(transaction__idempotency_key=f"train:{job.public_id}").count() == 2
    with pytest.raises(Exception, match="only a paused job can be resumed"):
        jobs.resume_job(user=provider, job_id=job.public_id)
