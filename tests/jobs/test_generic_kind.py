"""The job system is generic: a kind registered here, in the test module, without touching framework code, is
planned, held for, claimed by a worker of its resource class, kept alive by the heartbeat, claimed again when its
lease expires, cancelled, paused and resumed from its own state, settled, and logged, as fine-tuning is."""

import datetime as dt
import time

import pytest
from django.conf import settings
from django.utils import timezone

from core.exceptions import InvalidInput
from jobs import kinds, leases, queues, reaper, runner, services
from jobs.models import Job, JobStatus
from marketplace.models import AccountKind, LedgerEntry, Reservation
from marketplace.money import MICRO
from marketplace.services import ledger
from workers.celery import app

pytestmark = pytest.mark.django_db(transaction=True)
PER_SECOND = 1_000  # micro-credits
ON_STEP: dict = {}  # step -> what the test does when the countdown reaches it


class Countdown(kinds.JobKind):
    """Counts down `steps` "seconds", one step each, keeping its position in its state folder to resume from."""

    name = "test-countdown"
    id_prefix = "cd"
    unit = "second"
    started = "Countdown started"
    charge_key = "countdown"

    def plan(self, *, user, api_key, spec):
        steps = spec.get("steps")
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 50:
            raise InvalidInput("steps must be an integer between 1 and 50", param="steps")
        return kinds.Plan(params={"steps": steps}, estimated_units=steps, resource_class=spec.get("resource", "cpu"),
                          events=[f"Created a countdown of {steps}"] + [f"{note} ({{job}})" for note in spec.get("notes", [])])  # fmt: skip

    def price(self, units: int) -> int:
        return units * PER_SECOND

    def run(self, run) -> int:
        position = run.state_dir / "position"
        done = int(position.read_text()) if position.is_file() else 0
        steps = run.job.params["steps"]
        for step in range(done + 1, steps + 1):
            if reason := run.should_stop():
                raise kinds.Stopped(reason, step - 1)
            ON_STEP.get(step, lambda job: None)(run.job)
            run.progress(step=step, total_steps=steps, units=step, message=f"{steps - step} to go")
            position.parent.mkdir(parents=True, exist_ok=True)
            position.write_text(str(step))
        return steps


@pytest.fixture(autouse=True)
def countdown():
    kinds.register(Countdown)
    ON_STEP.clear()
    yield
    kinds.unregister(Countdown.name)


@pytest.fixture
def funded(provider):
    ledger.top_up(user=provider, amount=MICRO)
    return provider


@pytest.fixture
def empty_queues():
    """The job queues in the broker hold nothing before the test, and nothing it sent after it."""

    def empty():
        with app.connection_for_write() as connection:
            connection.default_channel.client.delete(*settings.JOB_QUEUES.values())

    empty()
    yield
    empty()


def wallet(user) -> tuple[int, int]:
    account = ledger.account_for(user.pk, AccountKind.WALLET)
    return account.balance, account.held


def log(job) -> list[str]:
    return list(job.events.order_by("id").values_list("message", flat=True))


def submit(user, steps=5, resource="cpu") -> Job:
    return services.submit(user=user, api_key=None, kind=Countdown.name, spec={"steps": steps, "resource": resource})


def test_a_bad_parameter_is_refused_by_name_and_nothing_is_created_or_held(funded):
    with pytest.raises(InvalidInput) as refused:
        submit(funded, steps=0)

    assert (refused.value.param, refused.value.message) == ("steps", "steps must be an integer between 1 and 50")
    assert (Job.objects.count(), Reservation.objects.count(), wallet(funded)) == (0, 0, (MICRO, 0))


def test_an_opening_event_names_the_job_and_keeps_the_callers_braces(funded):
    job = services.submit(user=funded, api_key=None, kind=Countdown.name, spec={"steps": 1, "notes": ["data{0}.jsonl"]})

    assert log(job) == ["Created a countdown of 1", f"data{{0}}.jsonl ({job.public_id})"]


def test_it_is_held_for_claimed_run_settled_and_logged(funded):
    job = submit(funded, steps=5)
    assert (job.public_id[:6], job.held, wallet(funded)) == ("cdjob-", 5 * PER_SECOND, (MICRO, 5 * PER_SECOND))

    assert runner.run_jobs() == 1

    done = Job.objects.get(pk=job.pk)
    assert (done.status, done.units_done, done.step, done.total_steps) == (JobStatus.SUCCEEDED, 5, 5, 5)
    assert wallet(funded) == (MICRO - 5 * PER_SECOND, 0)
    assert LedgerEntry.objects.filter(transaction__idempotency_key=f"countdown:{job.public_id}").count() == 2
    assert log(done) == ["Created a countdown of 5", "Countdown started", "4 to go", "3 to go", "2 to go", "1 to go",
                         "0 to go", "Job succeeded (5 seconds used, 0.005000 credits charged)"]  # fmt: skip


def test_a_gpu_job_waits_for_a_gpu_worker_and_its_queue(funded, empty_queues):
    job = submit(funded, steps=2, resource="gpu")

    assert (queues.waiting(settings.JOB_QUEUES["gpu"]), queues.waiting(settings.JOB_QUEUES["cpu"])) == (1, 0)
    assert runner.run_jobs(resources=queues.resources_of("cpu")) == 0
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED
    assert runner.run_jobs(resources=queues.resources_of("gpu")) == 1
    assert Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED


def test_jobs_that_may_run_anywhere_leave_one_nudge_in_a_queue_nobody_serves(funded, empty_queues):
    for _ in range(3):
        submit(funded, steps=1, resource="any")

    assert (queues.waiting(settings.JOB_QUEUES["cpu"]), queues.waiting(settings.JOB_QUEUES["gpu"])) == (3, 1)


def test_a_worker_named_for_other_kinds_leaves_it(funded):
    job = submit(funded)

    assert runner.run_jobs(kind_names=("finetune",)) == 0
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED


def test_the_heartbeat_renews_the_lease_while_a_step_runs(funded, settings):
    settings.JOB_LEASE_SECONDS = 2  # renewed every 0.5 s
    leases_seen = []

    def slow(job):
        leases_seen.append(Job.objects.get(pk=job.pk).lease_expires_at)
        time.sleep(1.5)
        leases_seen.append(Job.objects.get(pk=job.pk).lease_expires_at)

    ON_STEP[1] = slow
    job = submit(funded, steps=1)

    runner.run_jobs()

    assert leases_seen[1] > leases_seen[0]  # renewed during the step, past the claim's lease
    assert Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED


def test_an_expired_lease_is_claimed_again_and_the_old_worker_hears_it_lost(funded):
    job = submit(funded)
    first = leases.claim_job(worker="w1")
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))

    assert reaper.reap_lost_jobs() == 1
    second = leases.claim_job(worker="w2")

    assert (second.pk, second.attempts, second.lease_owner) == (first.pk, 2, "w2")
    assert leases.renew_lease(job=first, worker="w1") == "lost"
    assert log(second)[-2:] == ["Worker lost, retrying (attempt 2)", "Countdown started (attempt 2)"]


def test_a_cancel_stops_the_next_step_and_charges_the_steps_before_it(funded):
    ON_STEP[3] = lambda job: services.cancel(job)
    job = submit(funded, steps=5)

    runner.run_jobs()

    done = Job.objects.get(pk=job.pk)
    assert (done.status, done.units_done) == (JobStatus.CANCELLED, 3)  # step 3 ran; step 4 never started
    assert wallet(funded) == (MICRO - 3 * PER_SECOND, 0)
    assert log(done)[-3:] == ["Cancelling: the job stops at its next step", "2 to go",
                              "Job cancelled (3 seconds used, 0.003000 credits charged)"]  # fmt: skip


def test_a_paused_job_keeps_its_hold_and_resumes_from_its_own_state(funded):
    ON_STEP[3] = lambda job: services.pause(job)
    job = submit(funded, steps=5)

    runner.run_jobs()

    paused = Job.objects.get(pk=job.pk)
    assert (paused.status, paused.units_done, wallet(funded)) == (JobStatus.PAUSED, 3, (MICRO, 5 * PER_SECOND))
    assert log(paused)[-1] == "Paused after 3 seconds: resume continues from here"

    ON_STEP.clear()
    services.resume(paused)
    assert runner.run_jobs() == 1

    done = Job.objects.get(pk=job.pk)
    assert (done.status, done.units_done, done.attempts) == (JobStatus.SUCCEEDED, 5, 2)
    assert [m for m in log(done) if m.endswith("to go")] == ["4 to go", "3 to go", "2 to go", "1 to go", "0 to go"]
    assert wallet(funded) == (MICRO - 5 * PER_SECOND, 0)
    assert not services.state_dir(done).exists()  # a finished job's state goes


def test_a_job_whose_run_raises_fails_with_its_reason_and_pays_for_what_it_did(funded):
    def boom(job):
        raise RuntimeError("the device fell over")

    ON_STEP[2] = boom
    job = submit(funded, steps=4)

    runner.run_jobs()

    failed = Job.objects.get(pk=job.pk)
    assert (failed.status, failed.error["code"], failed.units_done) == (JobStatus.FAILED, "job_failed", 1)
    assert failed.error["message"] == "RuntimeError: the device fell over"
    assert wallet(funded) == (MICRO - PER_SECOND, 0)
