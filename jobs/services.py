"""Jobs as their owner sees them, whatever their kind: submit (checked whole by the kind, credits held, nothing
created on refusal), cancel, pause, resume, events and checkpoints (finding the caller's job, in its API's words,
is the adapter's: training/jobs.py). The worker's side is jobs/leases.py and jobs/runner.py; each API (OpenAI's
fine-tuning, evals) is an adapter over these."""

import secrets
import shutil
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, User
from core import outbox
from core.exceptions import Conflict, InvalidInput
from jobs import kinds, queues
from jobs.models import FINISHED, EventLevel, Job, JobCheckpoint, JobEvent, JobFile, JobStatus
from marketplace.services import job_charges


def new_id(kind: kinds.JobKind) -> str:
    return f"{kind.public_prefix or kind.id_prefix + 'job-'}{secrets.token_hex(12)}"


def submit(*, user: User, api_key: ApiKey | None, kind: str, spec: dict) -> Job:
    """Let the kind check `spec` and plan the job, hold the kind's price of its estimate, create it `queued` and
    wake a worker of its resource class. Any refusal creates and holds nothing."""
    runs = kinds.get(kind)
    plan = runs.plan(user=user, api_key=api_key, spec=spec)
    if plan.admit is not None:
        plan.admit()
    with transaction.atomic():
        job = Job(
            public_id=new_id(runs), kind=kind, owner=user, resource_class=plan.resource_class,
            base_model=plan.base_model, base_commit=plan.base_commit, base_label=plan.base_label, params=plan.params,
            metadata=plan.metadata, unit=runs.unit, estimated_units=plan.estimated_units,
        )  # fmt: skip
        amount = plan.hold if plan.hold is not None else runs.price(plan.estimated_units)
        job.held = job_charges.hold_job(
            user=user, job_id=job.public_id, amount=amount, units=plan.estimated_units,
            unit_price=runs.price(1_000_000), model=plan.base_model, commit=plan.base_commit, label=f"{runs.unit}s",
        )  # fmt: skip
        job.save()
        JobFile.objects.bulk_create([JobFile(job=job, file=file, role=role) for role, file in plan.inputs.items()])
        for message in plan.events:
            add_event(job, message.replace("{job}", job.public_id))  # never format(): a filename may hold braces
        transaction.on_commit(lambda: queues.ask_for_work(job.resource_class))
    return job


def list_events(job: Job, *, after: int | None, limit: int) -> list[JobEvent]:
    events = job.events.all()
    if after is not None:
        events = events.filter(id__lt=after)
    return list(events.order_by("-id")[:limit])


def list_checkpoints(job: Job, *, after: int | None, limit: int) -> list[JobCheckpoint]:
    checkpoints = job.checkpoints.select_related("commit", "job__result_model__owner")
    if after is not None:
        checkpoints = checkpoints.filter(id__lt=after)
    return list(checkpoints.order_by("-id")[:limit])


def cursor(value: str, prefix: str) -> int:
    """The row id in a page cursor like `ftevent-123`, or InvalidInput naming `after`."""
    digits = value.removeprefix(prefix)
    if not digits.isdigit():
        raise InvalidInput(f"after must be an id like {prefix}123", param="after")
    return int(digits)


def add_event(job: Job, message: str, *, level: str = EventLevel.INFO, data: dict | None = None) -> None:
    JobEvent.objects.create(job=job, level=level, message=message, type="metrics" if data else "message", data=data)


def status_changed(job: Job, status: str) -> None:
    """The domain event of a job's new status, in the transaction that set it (core/outbox.py)."""
    outbox.record("job.status_changed", job=job.public_id, status=status, owner_id=job.owner_id)


def state_dir(job: Job) -> Path:
    """Where the job's resumable state lives (a volume every worker of its class shares)."""
    return Path(settings.TRAINING_STATE_ROOT) / job.public_id


def discard_state(job: Job) -> None:
    """A finished job is never resumed: its state goes (its checkpoints are commits, and stay)."""
    shutil.rmtree(state_dir(job), ignore_errors=True)


def settle(job: Job, units: int) -> int:
    """Charge the kind's price of `units` against the job's hold and release the rest (idempotent)."""
    runs = kinds.get(job.kind)
    return job_charges.settle_job(job_id=job.public_id, user_id=job.owner_id, amount=runs.price(units),
                                  key=f"{runs.charge_key}:{job.public_id}",
                                  memo=f"{job.kind} {job.public_id}: {units} {job.unit}s")  # fmt: skip


def cancel(job: Job, *, param: str = "job_id") -> Job:
    """A queued or paused job ends at once; a running one stops within seconds (its worker checks between steps)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status in FINISHED:
            raise Conflict(f"the job is already {job.status}", param=param)
        if job.status == JobStatus.RUNNING:
            job.cancel_requested = True
            job.save(update_fields=["cancel_requested"])
            add_event(job, "Cancelling: the job stops at its next step")
            return job
        job.status, job.finished_at = JobStatus.CANCELLED, timezone.now()
        job.save(update_fields=["status", "finished_at"])
        add_event(job, "Job cancelled")
        status_changed(job, JobStatus.CANCELLED)
    discard_state(job)  # a paused job's
    settle(job, job.units_done)
    return job


def pause(job: Job, *, param: str = "job_id") -> Job:
    """Queued: paused at once. Running: the worker checkpoints at its next step boundary and stops."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
            raise Conflict(f"only a queued or running job can be paused; this one is {job.status}", param=param)
        job.status, job.paused_at = JobStatus.PAUSED, timezone.now()
        job.save(update_fields=["status", "paused_at"])
        status_changed(job, JobStatus.PAUSED)
        days = settings.MAX_PAUSE_SECONDS / 86400
        add_event(job, f"Job paused: its hold is kept for {days:g} days, then the job is cancelled and settled")
    return job


def resume(job: Job, *, param: str = "job_id") -> Job:
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status != JobStatus.PAUSED:
            raise Conflict(f"only a paused job can be resumed; this one is {job.status}", param=param)
        job.status, job.lease_expires_at, job.paused_at = JobStatus.QUEUED, None, None
        job.save(update_fields=["status", "lease_expires_at", "paused_at"])
        add_event(job, "Job resumed")
        status_changed(job, JobStatus.QUEUED)
        transaction.on_commit(lambda: queues.ask_for_work(job.resource_class))
    return job
