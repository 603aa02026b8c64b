"""Background work of the workers app: inference on the `infer` queue (threads pool: many calls per process) and
long jobs on the job queues (solo pool: one job at a time per process)."""

from celery import shared_task
from django.conf import settings

from jobs import queues, runner
from serving.protocol import GenerateRequest
from workers import inference


# acks_late=False: a call whose worker died is answered by the gateway (worker_lost), never run twice.
# ignore_result: the tokens and the summary travel in the call's Redis Stream; nobody reads a task result.
@shared_task
def ping() -> str:
    """Nothing: a Celery round trip through the broker and the result backend (bench/serve.py's yardstick)."""
    return "pong"


@shared_task(acks_late=False, ignore_result=True)
def run_jobs(resource: str) -> int:
    """Look for jobs of `resource`'s class (and `any`) and run every one that can be claimed. The message is only a
    nudge (the jobs are rows), so it is acknowledged at once: a worker that dies mid-job leaves a lease that expires,
    not a message. JOB_WORKER_KINDS narrows this worker to some kinds."""
    return runner.run_jobs(resources=queues.resources_of(resource), kind_names=settings.JOB_WORKER_KINDS)


@shared_task(acks_late=False, ignore_result=True)
def generate(message: dict) -> dict:
    """Run one call's generation (a GenerateRequest as its message) and stream its tokens into Redis with the
    store's batching engine, the backend that this worker runs (workers.inference)."""
    return inference.run_generation(GenerateRequest.from_message(message))
