"""Beat's watch over jobs that no worker is running (every REAP_JOBS_SECONDS, on the `default` queue, so it works
while every train worker is down):

- a running job whose lease expired lost its worker: it goes back to `queued` with the event "Worker lost,
  retrying (attempt N)" and a train worker is asked for, or, after MAX_JOB_ATTEMPTS, fails with `worker_lost`;
- a paused job keeps its hold for MAX_PAUSE_SECONDS: paused longer, it is cancelled, the tokens it trained are
  charged and the rest of its hold goes back. (A hold of a job is never voided as a stale call's would be:
  marketplace's void_stale_reservations leaves `ftjob-` holds to this.)"""

import datetime as dt

from django.conf import settings
from django.utils import timezone

from training.jobs import add_event, ask_for_work
from training.leases import finish_job, give_up, say_worker_lost
from training.models import EventLevel, FineTuningJob, JobStatus


def reap_lost_jobs(*, now: dt.datetime | None = None) -> int:
    """Requeue (or fail) running jobs whose lease expired. Returns how many."""
    now = now or timezone.now()
    reaped = 0
    for job in FineTuningJob.objects.filter(status=JobStatus.RUNNING, lease_expires_at__lt=now)[:100]:
        if job.attempts >= settings.MAX_JOB_ATTEMPTS:
            taken = FineTuningJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, lease_expires_at__lt=now).update(
                lease_expires_at=None, lease_owner=""
            )
            if taken:
                give_up(job, lost=job.attempts)
                reaped += 1
            continue
        requeued = FineTuningJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, lease_expires_at__lt=now).update(
            status=JobStatus.QUEUED, lease_owner="", lease_expires_at=None
        )
        if requeued:
            say_worker_lost(job, attempt=job.attempts + 1)
            reaped += 1
    if reaped:
        ask_for_work()
    return reaped


def expire_paused_jobs(*, now: dt.datetime | None = None) -> int:
    """Cancel jobs paused for longer than MAX_PAUSE_SECONDS, settling their holds. Returns how many."""
    now = now or timezone.now()
    limit = dt.timedelta(seconds=settings.MAX_PAUSE_SECONDS)
    expired = 0
    for job in FineTuningJob.objects.filter(status=JobStatus.PAUSED, paused_at__lt=now - limit)[:100]:
        if FineTuningJob.objects.filter(pk=job.pk, status=JobStatus.PAUSED).update(status=JobStatus.CANCELLED):
            days = settings.MAX_PAUSE_SECONDS / 86400
            add_event(job, f"Paused for longer than {days:g} days: the job is cancelled and its hold settled",
                      level=EventLevel.WARN)  # fmt: skip
            finish_job(job, status=JobStatus.CANCELLED)
            expired += 1
    return expired
