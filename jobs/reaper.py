"""Beat's watch over jobs that no worker is running (every REAP_JOBS_SECONDS, on the `default` queue, so it works
while every job worker is down):

- a running job whose lease expired lost its worker: it goes back to `queued` with the event "Worker lost,
  retrying (attempt N)" and a worker of its class is woken, or, after MAX_JOB_ATTEMPTS, it fails with `worker_lost`;
- a paused job keeps its hold for MAX_PAUSE_SECONDS: paused longer, it is cancelled, what it used is charged and the
  rest of its hold goes back. (A job's hold is never voided as a stale call's would be: marketplace's
  void_stale_reservations leaves every `...job-` hold to this.)
- queued jobs wake a worker of their class again, in case the nudge that announced them was lost."""

import datetime as dt

from django.conf import settings
from django.utils import timezone

from jobs import queues
from jobs.leases import finish_job, give_up, say_worker_lost
from jobs.models import EventLevel, Job, JobStatus
from jobs.services import add_event


def reap_lost_jobs(*, now: dt.datetime | None = None) -> int:
    """Requeue (or fail) running jobs whose lease expired. Returns how many."""
    now = now or timezone.now()
    reaped, woken = 0, set()
    for job in Job.objects.filter(status=JobStatus.RUNNING, lease_expires_at__lt=now)[:100]:
        if job.attempts >= settings.MAX_JOB_ATTEMPTS:
            taken = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, lease_expires_at__lt=now).update(
                lease_expires_at=None, lease_owner=""
            )
            if taken:
                give_up(job, lost=job.attempts)
                reaped += 1
            continue
        requeued = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, lease_expires_at__lt=now).update(
            status=JobStatus.QUEUED, lease_owner="", lease_expires_at=None
        )
        if requeued:
            say_worker_lost(job, attempt=job.attempts + 1)
            woken.add(job.resource_class)
            reaped += 1
    for resource_class in woken:
        queues.ask_for_work(resource_class)
    return reaped


def expire_paused_jobs(*, now: dt.datetime | None = None) -> int:
    """Cancel jobs paused for longer than MAX_PAUSE_SECONDS, settling their holds. Returns how many."""
    now = now or timezone.now()
    limit = dt.timedelta(seconds=settings.MAX_PAUSE_SECONDS)
    expired = 0
    for job in Job.objects.filter(status=JobStatus.PAUSED, paused_at__lt=now - limit)[:100]:
        if Job.objects.filter(pk=job.pk, status=JobStatus.PAUSED).update(status=JobStatus.CANCELLED):
            days = settings.MAX_PAUSE_SECONDS / 86400
            add_event(job, f"Paused for longer than {days:g} days: the job is cancelled and its hold settled",
                      level=EventLevel.WARN)  # fmt: skip
            finish_job(job, status=JobStatus.CANCELLED)
            expired += 1
    return expired


def wake_for_queued() -> int:
    """Wake a worker of each class that has queued jobs (a nudge may have been lost). Returns how many classes."""
    waiting = set(Job.objects.filter(status=JobStatus.QUEUED).values_list("resource_class", flat=True).distinct())
    for resource_class in waiting:
        queues.ask_for_work(resource_class, unless_waiting=True)
    return len(waiting)
