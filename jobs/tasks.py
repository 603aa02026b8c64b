"""The job system's beat tasks (on `default`); the workers' own task is workers.tasks.run_jobs."""

from celery import shared_task

from jobs import reaper


@shared_task(ignore_result=True)
def reap_jobs() -> int:
    """Requeue jobs whose worker was lost, and cancel jobs paused past MAX_PAUSE_SECONDS."""
    return reaper.reap_lost_jobs() + reaper.expire_paused_jobs()


@shared_task(ignore_result=True)
def look_for_work() -> int:
    """Wake a worker of every class with queued jobs, in case a nudge was lost."""
    return reaper.wake_for_queued()
