"""Background work of the registry, on the `validate` queue. Tasks are thin: claim, call the engine, record."""

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings

from engine.checkpoint import inspect_checkpoint
from engine.errors import BadCheckpoint
from registry import validation
from registry.checkout import checkout
from registry.models import Commit

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def validate_commit(self, commit_id: int) -> str:
    """Inspect a commit's checkpoint, then mark it valid or invalid with a report. A crash (storage, database,
    the engine) is not a verdict on the checkpoint: the commit goes back to `pending` and the task is tried again,
    VALIDATION_ATTEMPTS times in all, before the commit is `invalid` with the reason."""
    task_id = self.request.id or f"local-{commit_id}"
    attempt = self.request.retries + 1
    try:
        if not validation.claim_validation(commit_id=commit_id, task_id=task_id):
            return "skipped"  # finished already, or another live attempt holds it
        commit = Commit.objects.get(pk=commit_id)
        with checkout(commit) as directory:
            report = inspect_checkpoint(directory)
    except BadCheckpoint as exc:
        validation.finish_validation(commit_id=commit_id, task_id=task_id, report=None, error=str(exc))
        return "invalid"
    except Exception as exc:
        logger.exception("validation of commit %s crashed (attempt %d of %d)", commit_id, attempt,
                         settings.VALIDATION_ATTEMPTS)  # fmt: skip
        reason = f"{type(exc).__name__}: {exc}"
        if attempt >= settings.VALIDATION_ATTEMPTS:
            validation.finish_validation(
                commit_id=commit_id, task_id=task_id, report=None,
                error=f"validation failed {attempt} times ({reason}); ask for validation again from the commit page",
            )  # fmt: skip
            return "invalid"
        validation.release_validation(commit_id=commit_id, task_id=task_id, error=f"attempt {attempt} failed: {reason}")
        raise self.retry(exc=exc, countdown=settings.VALIDATION_RETRY_SECONDS * 2 ** (attempt - 1)) from None
    validation.finish_validation(commit_id=commit_id, task_id=task_id, report=report)
    return "valid"


@shared_task
def requeue_stuck_validations() -> int:
    """Re-enqueue commits whose validation message was lost (e.g. Redis restarted) or whose worker vanished."""
    stuck = validation.stuck_validations(older_than=dt.timedelta(minutes=2))
    for commit_id in stuck:
        validate_commit.delay(commit_id)
    return len(stuck)
