"""An evaluate worker SIGKILLed mid-evaluation: the lease runs out, another worker claims the job and evaluates again
from the start, and exactly one result per data set is stored."""

import os
import signal

import pytest
from django.conf import settings
from django.utils import timezone

from evaluation import services
from evaluation.models import Evaluation
from jobs import queues
from jobs.models import Job, JobStatus
from tests.conftest import commit_valid_checkpoint, start_worker_process, wait_until
from tests.evaluation.conftest import write_evals

pytestmark = pytest.mark.django_db(transaction=True)
SLOW = {
    "evals/slow.jsonl": [
        {"prompt": f"Question {n}: what follows?", "reference": "a long answer " * 20} for n in range(60)
    ]
}  # fmt: skip  (greedy generation of ~128 tokens each: seconds)


@pytest.fixture
def short_leases():
    os.environ["JOB_LEASE_SECONDS"] = "3"  # read by the worker processes only
    yield
    os.environ.pop("JOB_LEASE_SECONDS", None)


def worker(tmp_path, name: str):
    return start_worker_process("-Q", settings.JOB_QUEUES["cpu"], "-P", "solo", log_path=tmp_path / f"{name}.log")


def test_a_killed_evaluation_is_redone_and_stored_once(provider, checkpoint_copy, tmp_path, short_leases):
    write_evals(checkpoint_copy, SLOW)
    commit = commit_valid_checkpoint(provider, "tiny-gpt", checkpoint_copy, context_length=128, evaluated=False)
    job = services.request_evaluation(commit)
    first = worker(tmp_path, "first")
    try:
        wait_until(lambda: Job.objects.get(pk=job.pk).step >= 2, timeout=180)  # the standard set done, a file begun
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING
    assert Evaluation.objects.filter(commit=commit).count() == 0  # results are stored together, at the end
    second = worker(tmp_path, "second")
    try:
        wait_until(lambda: Job.objects.get(pk=job.pk).lease_expires_at < timezone.now(), timeout=60)
        queues.ask_for_work("cpu")  # what beat's look-for-job-work sends every 30 s
        wait_until(lambda: Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED, timeout=300)
    finally:
        second.terminate()
        second.wait(timeout=30)
    job.refresh_from_db()
    assert job.attempts == 2
    assert job.events.filter(message="Worker lost, retrying (attempt 2)").count() == 1
    stored = Evaluation.objects.filter(commit=commit)
    assert sorted(stored.values_list("dataset_name", flat=True)) == ["evals/slow.jsonl", "pkgdocs"]
    assert set(stored.values_list("job_id", "status")) == {(job.pk, "succeeded")}
