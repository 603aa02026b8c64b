"""Training's beat tasks (the train worker's own task is workers.tasks.train)."""

from celery import shared_task

from training import reaper


@shared_task(ignore_result=True)
def reap_jobs() -> int:
    """Requeue jobs whose worker was lost, and cancel jobs paused past MAX_PAUSE_SECONDS."""
    return reaper.reap_lost_jobs() + reaper.expire_paused_jobs()
