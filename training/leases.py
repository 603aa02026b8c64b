"""The train worker's side of a job: claim it with a lease (a conditional update), renew the lease with a
heartbeat, record metrics and checkpoints, and finish it (settling what it trained). A job whose lease expired is
claimed again by any worker (the reaper is beat's `look-for-training-work`); past MAX_JOB_ATTEMPTS it fails with
`worker_lost`."""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from accounts import notifications
from accounts.models import NotificationKind
from marketplace.money import format_credits
from marketplace.services import training_charges
from registry import pruning
from registry import services as registry
from registry.models import Commit, Model
from training.jobs import add_event, discard_state, status_changed
from training.models import EventLevel, FineTuningJob, JobCheckpoint, JobStatus

KEEP_CHECKPOINTS = 3


def claim_job(*, worker: str) -> FineTuningJob | None:
    """Take the oldest job a worker may run now: queued, or running with an expired lease. Users at
    MAX_ACTIVE_JOBS_PER_USER running jobs wait. None when there is nothing to do."""
    now = timezone.now()
    busy = (
        FineTuningJob.objects.filter(status=JobStatus.RUNNING, lease_expires_at__gte=now)
        .values("owner_id")
        .annotate(running=Count("id"))
        .filter(running__gte=settings.MAX_ACTIVE_JOBS_PER_USER)
        .values("owner_id")
    )
    for job in FineTuningJob.objects.claimable(now=now).exclude(owner_id__in=busy).order_by("created_at")[:20]:
        claimable = Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, lease_expires_at__lt=now)
        was_lost = job.status == JobStatus.RUNNING  # its worker stopped renewing: no reaper requeued it first
        with transaction.atomic():
            claimed = FineTuningJob.objects.filter(claimable, pk=job.pk).update(
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
        add_event(job, f"Fine-tuning started (attempt {job.attempts})" if job.attempts > 1 else "Fine-tuning started")
        return job
    return None


def say_worker_lost(job: FineTuningJob, *, attempt: int) -> None:
    """The event of a job whose worker stopped renewing its lease, as it is claimed or requeued again."""
    add_event(job, f"Worker lost, retrying (attempt {attempt})", level=EventLevel.WARN)


def give_up(job: FineTuningJob, *, lost: int) -> None:
    """Fail a job whose workers were lost MAX_JOB_ATTEMPTS times, settling what it trained."""
    finish_job(job, status=JobStatus.FAILED, error={
        "code": "worker_lost", "param": None, "message": f"the job's worker stopped {lost} times; it was given up",
    })  # fmt: skip


def renew_lease(*, job: FineTuningJob, worker: str) -> str | None:
    """Extend this worker's lease. Returns why the job should stop: "cancel", "pause", "lost" (another worker
    holds it now) or None to go on."""
    now = timezone.now()
    renewed = FineTuningJob.objects.filter(pk=job.pk, lease_owner=worker, status=JobStatus.RUNNING).update(
        lease_expires_at=now + dt.timedelta(seconds=settings.JOB_LEASE_SECONDS)
    )
    row = FineTuningJob.objects.filter(pk=job.pk).values("status", "cancel_requested").first()
    if row is None or row["cancel_requested"]:
        return "cancel"
    if row["status"] == JobStatus.PAUSED:
        return "pause"
    if job.started_at and (now - job.started_at).total_seconds() > settings.MAX_JOB_SECONDS:
        return "timeout"
    return None if renewed == 1 else "lost"


def requested_stop(job: FineTuningJob) -> str | None:
    """ "cancel" or "pause" if the owner asked since the job started, read now: the training loop asks before every
    step, so a job stops at its next step and is charged only what it trained until then."""
    row = FineTuningJob.objects.filter(pk=job.pk).values_list("status", "cancel_requested").first()
    if row is None or row[1]:
        return "cancel"
    return "pause" if row[0] == JobStatus.PAUSED else None


def record_metrics(job: FineTuningJob, metrics: dict) -> None:
    FineTuningJob.objects.filter(pk=job.pk).update(step=metrics["step"], total_steps=metrics["total_steps"],
                                                   trained_tokens=metrics["tokens"])  # fmt: skip
    add_event(job, f"Step {metrics['step']}/{metrics['total_steps']}: training loss={metrics['train_loss']:.4f}",
              data=metrics)  # fmt: skip


def result_model(job: FineTuningJob) -> Model:
    """The job's private result model `owner/<base-name>-ft-<suffix or job id>` (`owner/gpt-<preset>-...` from
    scratch), made on its first checkpoint."""
    if job.result_model_id:
        return Model.objects.get(pk=job.result_model_id)
    tail = job.suffix or job.public_id.removeprefix("ftjob-")[:12]
    if job.base_model is None:  # pretrained from scratch
        name = f"gpt-{job.method['pretrain']['preset']}-{tail}"
    else:
        name = f"{job.base_model.name}-ft-{tail}"
    with transaction.atomic():
        model = registry.create_model(owner=job.owner, name=name[:96].rstrip("-_."), is_private=True)
        job.result_model = model
        job.fine_tuned_model = model.repo_id
        job.save(update_fields=["result_model", "fine_tuned_model"])
    return model


def record_checkpoint(job: FineTuningJob, *, commit: Commit, metrics: dict) -> JobCheckpoint:
    registry.create_tag(model_id=commit.model_id, name=f"ckpt-step-{metrics['step']}", revision=commit.sha)
    checkpoint, _ = JobCheckpoint.objects.update_or_create(
        job=job, step_number=metrics["step"], defaults={"metrics": metrics, "commit": commit}
    )
    add_event(job, f"Checkpoint at step {metrics['step']} (epoch {metrics['epoch']}): {commit.sha[:12]}")
    prune_checkpoints(job)
    return checkpoint


def prune_checkpoints(job: FineTuningJob) -> None:
    """Keep the last KEEP_CHECKPOINTS epoch checkpoints: older ones lose their tag, their commit (its child is
    re-linked) and the blobs nothing else uses, which go back to the owner's storage quota."""
    for old in job.checkpoints.order_by("-step_number")[KEEP_CHECKPOINTS:]:
        commit_id, step = old.commit_id, old.step_number
        registry.delete_tag(model_id=old.commit.model_id, name=f"ckpt-step-{step}")
        old.delete()
        freed = pruning.drop_commit(commit_id=commit_id)
        add_event(job, f"Pruned the checkpoint at step {step} ({freed} bytes): the last {KEEP_CHECKPOINTS} are kept")


def finish_job(job: FineTuningJob, *, status: str, error: dict | None = None, tokens: int | None = None) -> None:
    """End the job and settle: the tokens trained are charged, the rest of the hold is released, and its resumable
    state goes (its checkpoints are commits, and stay)."""
    trained = job.trained_tokens if tokens is None else tokens
    with transaction.atomic():
        FineTuningJob.objects.filter(pk=job.pk).update(status=status, error=error, finished_at=timezone.now(),
                                                       trained_tokens=trained, lease_expires_at=None)  # fmt: skip
        status_changed(job, status)
    discard_state(job)  # a finished job never resumes
    charged = training_charges.settle_training(job_id=job.public_id, user_id=job.owner_id, tokens=trained)
    level = EventLevel.ERROR if status == JobStatus.FAILED else EventLevel.INFO
    detail = f": {error['message']}" if error else ""
    add_event(job, f"Job {status}{detail} ({trained} tokens trained, {format_credits(charged)} credits charged)",
              level=level)  # fmt: skip
    if status in (JobStatus.SUCCEEDED, JobStatus.FAILED):  # a cancel is the owner's own act: nothing to tell
        made = FineTuningJob.objects.filter(pk=job.pk).values_list("fine_tuned_model", flat=True).first()
        result = f", result {made}" if status == JobStatus.SUCCEEDED and made else ""
        notifications.notify(
            user=job.owner, kind=NotificationKind.JOB_SUCCEEDED if status == JobStatus.SUCCEEDED else NotificationKind.JOB_FAILED,
            message=f"Job {job.public_id} {status}{detail}{result}.", link=f"/jobs/{job.public_id}",
        )  # fmt: skip
