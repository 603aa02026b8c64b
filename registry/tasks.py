"""Background work of the registry, on the `validate` queue. Tasks are thin: claim, call the engine, record."""

import datetime as dt
import logging

from celery import shared_task

from registry import services
from registry.checkout import checkout
from registry.models import Commit
from workers.engine.checkpoint import inspect_checkpoint
from workers.engine.errors import BadCheckpoint

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=3)
def validate_commit(self, commit_id: int) -> str:
    """Inspect a commit's checkpoint, then mark it valid or invalid with a report."""
    task_id = self.request.id or f"local-{commit_id}"
    if not services.claim_validation(commit_id=commit_id, task_id=task_id):
        return "skipped"  # finished already, or another live attempt holds it
    commit = Commit.objects.get(pk=commit_id)
    try:
        with checkout(commit) as directory:
            report = inspect_checkpoint(directory)
    except BadCheckpoint as exc:
        services.finish_validation(commit_id=commit_id, task_id=task_id, report=None, error=str(exc))
        return "invalid"
    except Exception:
        logger.exception("validation of commit %s crashed", commit_id)
        services.finish_validation(
            commit_id=commit_id, task_id=task_id, report=None, error="internal error while validating; try again"
        )
        raise
    services.finish_validation(commit_id=commit_id, task_id=task_id, report=report)
    return "valid"


@shared_task
def requeue_stuck_validations() -> int:
    """Re-enqueue commits whose validation message was lost (e.g. Redis restarted) or whose worker vanished."""
    stuck = services.stuck_validations(older_than=dt.timedelta(minutes=2))
    for commit_id in stuck:
        validate_commit.delay(commit_id)
    return len(stuck)
