"""A parent the store has really evaluated, and a worker that runs a compression job, validates its result and
evaluates it on the same device as the parent, as the trade-off table needs."""

import pytest
from django.conf import settings

from core import outbox
from evaluation import services as evaluation
from evaluation.models import Evaluation
from registry.models import Commit, Model, ValidationStatus
from tests.conftest import commit_valid_checkpoint, start_worker_process, wait_until


@pytest.fixture
def parent(provider, tiny_checkpoint):
    """alice/tiny-gpt, valid, with its evaluation queued for the worker (not a recorded stand-in)."""
    commit = commit_valid_checkpoint(provider, "tiny-gpt", tiny_checkpoint, context_length=128, evaluated=False)
    evaluation.request_evaluation(commit)
    return commit


def compress_until_evaluated(client, job_id: str, log_path, *, timeout: float = 300) -> Model:
    """Start a job worker that also validates, wait until the job succeeded and every commit of its result is valid
    and evaluated (and its parent too), stop the worker, and return the result model."""
    worker = start_worker_process("-Q", f"{settings.JOB_QUEUES['cpu']},validate", "-P", "solo", log_path=log_path)

    def evaluated(head) -> bool:
        outbox.deliver_due()  # what beat's deliver_outbox does: commit.validated queues the result's evaluation
        done = Evaluation.objects.filter(commit__in=[head, head.base_commit], dataset_kind="standard",
                                         status="succeeded")  # fmt: skip
        return done.count() == 2

    try:
        wait_until(lambda: client.fine_tuning.jobs.retrieve(job_id).status in ("succeeded", "failed"), timeout=timeout)
        job = client.fine_tuning.jobs.retrieve(job_id)
        assert job.status == "succeeded", job.error
        owner, _, name = job.fine_tuned_model.partition("/")
        result = Model.objects.get(owner__username=owner, name=name)
        commits = Commit.objects.filter(model=result)
        wait_until(lambda: not commits.exclude(validation_status=ValidationStatus.VALID).exists(), timeout=120)
        head = commits.order_by("-id").first()
        wait_until(lambda: evaluated(head), timeout=180)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    return result
