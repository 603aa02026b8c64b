"""A worker's side of a job, whatever its kind: claim it with a lease (a conditional update), renew the lease with a
heartbeat, record progress and checkpoints, and finish it (settling what it used). A job whose lease expired is
claimed again by any worker of its class (jobs/reaper.py requeues it); past MAX_JOB_ATTEMPTS it fails with
`worker_lost`."""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from accounts import notifications
from accounts.models import NotificationKind
from jobs import kinds
from jobs.models import EventLevel, Job, JobCheckpoint, JobStatus, ResourceClass
from jobs.services import add_event, discard_state, settle, status_changed
from marketplace.money import format_credits
from registry import pruning
from registry import services as registry
from registry.models import Commit

KEEP_CHECKPOINTS = 3


CPU_WORKER = (ResourceClass.CPU, ResourceClass.ANY)


def claim_job(*, worker: str, resources: tuple[str, ...] = CPU_WORKER, kind_names: tuple[str, ...] = (),
              job_id: int | None = None) -> Job | None:  # fmt: skip
    """Take the oldest job this worker may run now: of its resource classes (a CPU worker's unless named) and kinds
    (any this process knows unless named), queued or running with an expired lease; with `job_id`, that job only.
    Users at MAX_ACTIVE_JOBS_PER_USER running jobs wait. None when there is nothing to do."""
    now = timezone.now()
    busy = (
        Job.objects.filter(status=JobStatus.RUNNING, lease_expires_at__gte=now)
        .values("owner_id")
        .annotate(running=Count("id"))
        .filter(running__gte=settings.MAX_ACTIVE_JOBS_PER_USER)
        .values("owner_id")
    )
    mine = Job.objects.claimable(now=now).filter(resource_class__in=resources, kind__in=kind_names or kinds.names())
    if job_id is not None:
        mine = mine.filter(pk=job_id)
    for job in mine.exclude(owner_id__in=busy).order_by("created_at")[:20]:
        claimable = Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, lease_expires_at__lt=now)
        was_lost = job.status == JobStatus.RUNNING  # its worker stopped renewing: no reaper requeued it first
        with transaction.atomic():
            claimed = Job.objects.filter(claimable, pk=job.pk).update(
                status=JobStatus.RUNNING, lease_owner=worker, attempts=job.attempts + 1,
                started_at=job.started_at or now, lease_expires_at=now + dt.timedelta(seconds=settings.JOB_LEASE_SECONDS),
            )  # fmt: skip
            if claimed == 1:
                status_changed(job, JobStatus.RUNNING)
        if claimed != 1:
            continue  # another worker took it first
        job.refresh_from_db()
        if job.attempts > settings.MAX_JOB_ATTEMPTS:
            give_up(job, lost=job.attempts - 1)
            continue
        if was_lost:
            say_worker_lost(job, attempt=job.attempts)
        started = kinds.get(job.kind).started
        add_event(job, f"{started} (attempt {job.attempts})" if job.attempts > 1 else started)
        return job
    return None


def say_worker_lost(job: Job, *, attempt: int) -> None:
    """The event of a job whose worker stopped renewing its lease, as it is claimed or requeued again."""
    add_event(job, f"Worker lost, retrying (attempt {attempt})", level=EventLevel.WARN)


def give_up(job: Job, *, lost: int) -> None:
    """Fail a job whose workers were lost MAX_JOB_ATTEMPTS times, settling what it used."""
    finish_job(job, status=JobStatus.FAILED, error={
        "code": "worker_lost", "param": None, "message": f"the job's worker stopped {lost} times; it was given up",
    })  # fmt: skip


def renew_lease(*, job: Job, worker: str) -> str | None:
    """Extend this worker's lease. Returns why the job should stop: "cancel", "pause", "timeout", "lost" (another
    worker holds it now) or None to go on."""
    now = timezone.now()
    renewed = Job.objects.filter(pk=job.pk, lease_owner=worker, status=JobStatus.RUNNING).update(
        lease_expires_at=now + dt.timedelta(seconds=settings.JOB_LEASE_SECONDS)
    )
    row = Job.objects.filter(pk=job.pk).values("status", "cancel_requested").first()
    if row is None or row["cancel_requested"]:
        return "cancel"
    if row["status"] == JobStatus.PAUSED:
        return "pause"
    if job.started_at and (now - job.started_at).total_seconds() > settings.MAX_JOB_SECONDS:
        return "timeout"
    return None if renewed == 1 else "lost"


def requested_stop(job: Job) -> str | None:
    """ "cancel" or "pause" if the owner asked since the job started, read now: a kind asks before every step, so a
    job stops at its next step and is charged only what it used until then."""
    row = Job.objects.filter(pk=job.pk).values_list("status", "cancel_requested").first()
    if row is None or row[1]:
        return "cancel"
    return "pause" if row[0] == JobStatus.PAUSED else None


def record_progress(job: Job, *, step: int, total_steps: int, units: int, message: str, data: dict | None) -> None:
    Job.objects.filter(pk=job.pk).update(step=step, total_steps=total_steps, units_done=units)
    add_event(job, message, data=data)


def record_checkpoint(job: Job, *, commit: Commit, metrics: dict) -> JobCheckpoint:
    registry.create_tag(model_id=commit.model_id, name=f"ckpt-step-{metrics['step']}", revision=commit.sha)
    checkpoint, _ = JobCheckpoint.objects.update_or_create(
        job=job, step_number=metrics["step"], defaults={"metrics": metrics, "commit": commit}
    )
    epoch = f" (epoch {metrics['epoch']})" if "epoch" in metrics else ""
    add_event(job, f"Checkpoint at step {metrics['step']}{epoch}: {commit.sha[:12]}")
    prune_checkpoints(job)
    return checkpoint


def prune_checkpoints(job: Job) -> None:
    """Keep the last KEEP_CHECKPOINTS checkpoints: older ones lose their tag, their commit (its child is re-linked)
    and the blobs nothing else uses, which go back to the owner's storage quota."""
    for old in job.checkpoints.order_by("-step_number")[KEEP_CHECKPOINTS:]:
        commit_id, step = old.commit_id, old.step_number
        registry.delete_tag(model_id=old.commit.model_id, name=f"ckpt-step-{step}")
        old.delete()
        freed = pruning.drop_commit(commit_id=commit_id)
        add_event(job, f"Pruned the checkpoint at step {step} ({freed} bytes): the last {KEEP_CHECKPOINTS} are kept")


def finish_job(job: Job, *, status: str, error: dict | None = None, units: int | None = None,
               result: dict | None = None) -> None:  # fmt: skip
    """End the job and settle: the units used are charged (a failed job's too: the work was done), the rest of the
    hold is released, and its resumable state goes (its checkpoints are commits, and stay)."""
    if units is None:  # what its last progress report said, read now (the claimed row's copy is older)
        units = Job.objects.filter(pk=job.pk).values_list("units_done", flat=True).first() or 0
    used = units
    with transaction.atomic():
        Job.objects.filter(pk=job.pk).update(status=status, error=error, finished_at=timezone.now(), units_done=used,
                                             lease_expires_at=None, **({"result": result} if result else {}))  # fmt: skip
        status_changed(job, status)
    discard_state(job)  # a finished job never resumes
    charged = settle(job, used)
    level = EventLevel.ERROR if status == JobStatus.FAILED else EventLevel.INFO
    detail = f": {error['message']}" if error else ""
    add_event(job, f"Job {status}{detail} ({used} {_done(job)}, {format_credits(charged)} credits charged)",
              level=level)  # fmt: skip
    if status in (JobStatus.SUCCEEDED, JobStatus.FAILED) and _notifies(job):  # a cancel is the owner's own act
        made = Job.objects.filter(pk=job.pk).values_list("result_label", flat=True).first()
        result_words = f", result {made}" if status == JobStatus.SUCCEEDED and made else ""
        notifications.notify(
            user=job.owner, kind=NotificationKind.JOB_SUCCEEDED if status == JobStatus.SUCCEEDED else NotificationKind.JOB_FAILED,
            message=f"Job {job.public_id} {status}{detail}{result_words}.", link=f"/jobs/{job.public_id}",
        )  # fmt: skip


def _notifies(job: Job) -> bool:
    try:
        return kinds.get(job.kind).notifies
    except LookupError:
        return True


def _done(job: Job) -> str:
    """How the closing event names the units: "tokens trained" for a training kind, "seconds used" otherwise."""
    return f"{job.unit}s trained" if job.unit == "token" else f"{job.unit}s used"
