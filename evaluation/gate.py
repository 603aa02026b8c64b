"""The listing gate (marketplace/services/publish_gate.py): a listing may serve a commit once the store's own
evaluation of it on the current standard set succeeded. Until then publishing waits (the listing goes live when the
evaluation ends) or, when the evaluation failed, is refused with its reason."""

from django.db import transaction

from evaluation import services
from evaluation.models import EvaluationStatus
from jobs.models import FINISHED, JobStatus
from marketplace.services import publish_gate
from marketplace.services.publish_gate import Verdict
from registry.models import Commit


def evaluated(commit: Commit) -> Verdict:
    short = commit.sha[:12]
    result = services.standard_result(commit)
    job = services.latest_job(commit)
    running = job is not None and job.status not in FINISHED
    if result is not None and result.status == EvaluationStatus.SUCCEEDED:
        return publish_gate.READY
    if result is not None and job is not None and result.job_id == job.pk:  # the latest job's own verdict: failed
        return Verdict(ready=False, reason=f"the store's evaluation of commit {short} failed: {result.error}")
    waiting = (f"commit {short} is being evaluated by the store (job {job.public_id if job is not None and running else 'queued'}); "
               "the listing goes live when the evaluation succeeds")  # fmt: skip
    if running:
        return Verdict(ready=False, pending=True, reason=waiting)
    if result is not None:
        return Verdict(ready=False, reason=f"the store's evaluation of commit {short} failed: {result.error}")
    if job is not None and job.status == JobStatus.FAILED:
        message = (job.error or {}).get("message", "the job failed").rstrip(".")
        return Verdict(ready=False, reason=f"the store's evaluation of commit {short} failed: {message}. Ask for "
                       "a new one on the model's evaluations")  # fmt: skip
    transaction.on_commit(lambda: services.request_evaluation(commit))  # never evaluated (older than the gate)
    return Verdict(ready=False, pending=True, reason=waiting)


publish_gate.register(evaluated)


def evaluate_here(commit: Commit) -> None:
    """publish_gate.prepare's work: the operator publishes now, so the commit is evaluated now, in this process."""
    services.evaluate_now(commit)


publish_gate.register_preparer(evaluate_here)
