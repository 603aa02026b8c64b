"""Running a job to its end with a real train worker process, as the training tests do."""

from django.conf import settings

from registry.models import Commit, Model, ValidationStatus
from tests.conftest import start_worker_process, wait_until


def train_until_valid(client, job_id: str, log_path) -> Model:
    """Start a train worker (which also validates the result's commits), wait until the job succeeded and every
    commit of its result model is valid, stop the worker, and return the result model."""
    worker = start_worker_process("-Q", f"{settings.JOB_QUEUES['cpu']},validate", "-P", "solo", log_path=log_path)
    try:
        wait_until(lambda: client.fine_tuning.jobs.retrieve(job_id).status == "succeeded", timeout=240)
        owner, _, name = client.fine_tuning.jobs.retrieve(job_id).fine_tuned_model.partition("/")
        result = Model.objects.get(owner__username=owner, name=name)
        wait_until(lambda: not Commit.objects.filter(model=result).exclude(
            validation_status=ValidationStatus.VALID).exists(), timeout=120)  # fmt: skip
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    return result
