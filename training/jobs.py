"""Fine-tuning jobs as the caller sees them: create (checked whole, credits held, nothing created on refusal),
list, retrieve, cancel, pause, resume, events and checkpoints. The train worker's side is training/leases.py."""

import dataclasses
import logging
import re
import secrets
import shutil
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, User
from core import json_input, outbox
from core.exceptions import Conflict, InvalidInput, NotFound, PermissionDenied
from marketplace.exceptions import ModelNotFound
from marketplace.services import downloads, offers, training_charges
from registry.exceptions import GatedRepo, RevisionNotFound
from registry.models import Commit, Model
from training import files, method, tokens
from training.models import FINISHED, EventLevel, FineTuningJob, JobCheckpoint, JobEvent, JobStatus, TrainingFile

logger = logging.getLogger(__name__)
SUFFIX_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def create_job(
    *,
    user: User,
    api_key: ApiKey | None,
    model: str,
    training_file: str,
    validation_file: str | None = None,
    method_spec: dict | None = None,
    hyperparameters: dict | None = None,
    suffix: str | None = None,
    seed: int | None = None,
    metadata: dict | None = None,
) -> FineTuningJob:
    """Check everything, charge a paid download of the base once (as a pull would), hold the estimate, create
    the job `queued` and ask a train worker to look for it. Any refusal creates and charges nothing."""
    if api_key is not None and not api_key.has_scope("finetune"):
        raise PermissionDenied("this API key lacks the 'finetune' scope")
    json_input.model_id(model)
    train = files.training_data(user=user, file_id=training_file, param="training_file")
    valid = (
        files.training_data(user=user, file_id=validation_file, param="validation_file") if validation_file else None
    )
    resolved = method.resolve(method=method_spec, hyperparameters=hyperparameters, examples=train.examples)
    if resolved["type"] == "pretrain" or model == SCRATCH:
        return _create_pretraining(user=user, model=model, train=train, valid=valid, resolved=resolved,
                                   suffix=suffix, seed=seed, metadata=metadata)  # fmt: skip
    base, commit = fine_tunable_base(user=user, model_id=model)
    if train.examples < settings.MIN_FINE_TUNE_EXAMPLES:
        raise InvalidInput(
            f"the training file has {train.examples} examples; fine-tuning needs at least "
            f"{settings.MIN_FINE_TUNE_EXAMPLES}", param="training_file",
        )  # fmt: skip
    suffix = _suffix(suffix)
    seed = _seed(seed)
    metadata = json_input.metadata(metadata)
    result_name = f"{base.name}-ft-{suffix}" if suffix else None
    if result_name and Model.objects.filter(owner=user, name=result_name).exists():
        raise Conflict(f"you already have a model named {result_name}: choose another suffix", param="suffix")
    planned = estimate(train=train, resolved=resolved, commit=commit)
    downloads.grant_weights(model=base, commit=commit, user=user, api_key=api_key, pay=True)
    with transaction.atomic():
        job = FineTuningJob(
            owner=user, base_model=base, base_commit=commit, base_label=f"{base.repo_id}@{commit.sha}",
            training_file=train, validation_file=valid, method=resolved, suffix=suffix, seed=seed,
            metadata=metadata, estimated_tokens=planned.tokens,
        )  # fmt: skip
        job.held = training_charges.hold_training(
            user=user, job_id=job.public_id, tokens=planned.tokens, model=base, commit=commit
        )
        job.save()
        add_event(job, f"Created fine-tuning job {job.public_id} on {job.base_label}")
        add_event(job, f"Validated {train.filename}: {train.examples} examples, {planned.per_pass} tokens a pass")
        transaction.on_commit(ask_for_work)
    return job


SCRATCH = "scratch"


def _create_pretraining(*, user, model, train, valid, resolved, suffix, seed, metadata) -> FineTuningJob:
    """A GPT trained from scratch on a corpus (method.type "pretrain", model "scratch"): the estimate is the
    corpus's UTF-8 bytes (a byte-level tokenizer never makes more tokens) x epochs."""
    if model != SCRATCH:
        raise InvalidInput("pretraining starts from nothing: send model='scratch'", param="model")
    if resolved["type"] != "pretrain":
        raise InvalidInput("model 'scratch' needs method.type 'pretrain'", param="method.type")
    if train.format not in ("plain", "text"):
        raise InvalidInput('a pretraining corpus is plain text or {"text": ...} lines', param="training_file")
    suffix, seed, metadata = _suffix(suffix), _seed(seed), json_input.metadata(metadata)
    planned = estimate(train=train, resolved=resolved, commit=None)
    with transaction.atomic():
        job = FineTuningJob(owner=user, base_label=SCRATCH, training_file=train, validation_file=valid,
                            method=resolved, suffix=suffix, seed=seed, metadata=metadata,
                            estimated_tokens=planned.tokens)  # fmt: skip
        job.held = training_charges.hold_training(user=user, job_id=job.public_id, tokens=planned.tokens)
        job.save()
        preset = resolved["pretrain"]["preset"]
        add_event(job, f"Created pretraining job {job.public_id}: a {preset} GPT from scratch")
        add_event(job, f"Validated {train.filename}: {train.examples} texts, at most {planned.per_pass} tokens a pass")
        transaction.on_commit(ask_for_work)
    return job


@dataclasses.dataclass(frozen=True)
class Estimate:
    """What a job will train, as its hold prices it: the file's tokens with the base's tokenizer (UTF-8 bytes, an
    upper bound, from scratch) for each of its epochs."""

    per_pass: int
    epochs: int

    @property
    def tokens(self) -> int:
        return self.per_pass * self.epochs

    @property
    def cost(self) -> int:
        return training_charges.training_cost(self.tokens)


def estimate(*, train: TrainingFile, resolved: dict, commit: Commit | None) -> Estimate:
    """The estimate of a job on `train` (from `commit`, or from scratch), or InvalidInput past MAX_JOB_TOKENS."""
    planned = Estimate(per_pass=tokens.count(commit, files.read_records(train)),
                       epochs=method.hyperparameters_of(resolved)["n_epochs"])  # fmt: skip
    if planned.tokens > settings.MAX_JOB_TOKENS:
        raise InvalidInput(
            f"this job would train {planned.tokens} tokens (the file's {planned.per_pass} x {planned.epochs} "
            f"epochs), over the limit of {settings.MAX_JOB_TOKENS}", param="training_file",
        )  # fmt: skip
    return planned


def fine_tunable_base(*, user: User, model_id: str):
    """The base the caller may fine-tune: one they may pull (their own, a public model without a listing, or a
    listing that lets them download the weights), at a valid revision."""
    name, _, revision = model_id.partition("@")
    owner, _, short = name.partition("/")
    base = Model.objects.visible_to(user).filter(owner__username=owner, name=short).first() if short else None
    if base is None:
        raise ModelNotFound(f"The model '{model_id}' does not exist or you do not have access to it.", param="model")
    if offers.download_price(model=base, user=user) is None:
        raise GatedRepo(f"{base.repo_id} is offered for calls only: its weights cannot be fine-tuned")
    try:
        commit = offers.servable_commit(model=base, revision=revision or "main")
    except RevisionNotFound:
        raise ModelNotFound(f"The model '{base.repo_id}' has no revision '{revision}'.", param="model") from None
    return base, commit


def _suffix(suffix) -> str:
    if suffix in (None, ""):
        return ""
    if not isinstance(suffix, str) or not SUFFIX_PATTERN.fullmatch(suffix):
        raise InvalidInput("suffix must be 1-64 letters, digits, '-' or '_', starting with a letter or digit",
                           param="suffix")  # fmt: skip
    return suffix


def _seed(seed) -> int:
    if seed is None:
        return secrets.randbelow(2**31)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise InvalidInput("seed must be an integer between 0 and 2147483647", param="seed")
    return seed


def ask_for_work() -> None:
    """Wake a train worker. If the broker is down the job still stands: beat's `look-for-training-work` and any
    worker that comes back find it (the database is the outbox)."""
    try:
        current_app.send_task("workers.tasks.train", queue="train", retry=False)
    except Exception as exc:  # kombu's OperationalError, redis errors
        logger.warning("could not wake a train worker (%s: %s); beat will", type(exc).__name__, exc)


def state_dir(job: FineTuningJob) -> Path:
    """Where the job's resumable training state lives (engine/train_state.py)."""
    return Path(settings.TRAINING_STATE_ROOT) / job.public_id


def discard_state(job: FineTuningJob) -> None:
    """A finished job is never resumed: its training state goes (its checkpoints are commits, and stay)."""
    shutil.rmtree(state_dir(job), ignore_errors=True)


def add_event(job: FineTuningJob, message: str, *, level: str = EventLevel.INFO, data: dict | None = None) -> None:
    JobEvent.objects.create(job=job, level=level, message=message, type="metrics" if data else "message", data=data)


def get_job(*, user: User, job_id: str) -> FineTuningJob:
    job = FineTuningJob.objects.filter(owner=user, public_id=job_id).select_related(
        "training_file", "validation_file", "owner"
    ).first()  # fmt: skip
    if job is None:
        raise NotFound(f"No such fine-tuning job: {job_id}", param="fine_tuning_job_id")
    return job


def list_jobs(*, user: User, after: str | None, limit: int) -> list[FineTuningJob]:
    jobs = FineTuningJob.objects.filter(owner=user).select_related("training_file", "validation_file", "owner")
    if after:
        jobs = jobs.filter(id__lt=get_job(user=user, job_id=after).pk)
    return list(jobs.order_by("-id")[:limit])


def list_events(*, user: User, job_id: str, after: str | None, limit: int) -> list[JobEvent]:
    events = get_job(user=user, job_id=job_id).events.all()
    if after:
        events = events.filter(id__lt=_number(after, "ftevent-"))
    return list(events.order_by("-id")[:limit])


def list_checkpoints(*, user: User, job_id: str, after: str | None, limit: int) -> list[JobCheckpoint]:
    checkpoints = get_job(user=user, job_id=job_id).checkpoints.select_related("commit", "job__result_model__owner")
    if after:
        checkpoints = checkpoints.filter(id__lt=_number(after, "ftckpt-"))
    return list(checkpoints.order_by("-id")[:limit])


def _number(cursor: str, prefix: str) -> int:
    digits = cursor.removeprefix(prefix)
    if not digits.isdigit():
        raise InvalidInput(f"after must be an id like {prefix}123", param="after")
    return int(digits)


def status_changed(job: FineTuningJob, status: str) -> None:
    """The domain event of a job's new status, in the transaction that set it (core/outbox.py)."""
    outbox.record("job.status_changed", job=job.public_id, status=status, owner_id=job.owner_id)


def cancel_job(*, user: User, job_id: str) -> FineTuningJob:
    """A queued or paused job ends at once; a running one stops within seconds (its worker checks)."""
    with transaction.atomic():
        job = FineTuningJob.objects.select_for_update().get(pk=get_job(user=user, job_id=job_id).pk)
        if job.status in FINISHED:
            raise Conflict(f"the job is already {job.status}", param="fine_tuning_job_id")
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
    training_charges.settle_training(job_id=job.public_id, user_id=user.pk, tokens=job.trained_tokens)
    return job


def pause_job(*, user: User, job_id: str) -> FineTuningJob:
    """Queued: paused at once. Running: the worker checkpoints at its next step boundary and stops."""
    with transaction.atomic():
        job = FineTuningJob.objects.select_for_update().get(pk=get_job(user=user, job_id=job_id).pk)
        if job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
            raise Conflict(f"only a queued or running job can be paused; this one is {job.status}",
                           param="fine_tuning_job_id")  # fmt: skip
        job.status, job.paused_at = JobStatus.PAUSED, timezone.now()
        job.save(update_fields=["status", "paused_at"])
        status_changed(job, JobStatus.PAUSED)
        days = settings.MAX_PAUSE_SECONDS / 86400
        add_event(job, f"Job paused: its hold is kept for {days:g} days, then the job is cancelled and settled")
    return job


def resume_job(*, user: User, job_id: str) -> FineTuningJob:
    with transaction.atomic():
        job = FineTuningJob.objects.select_for_update().get(pk=get_job(user=user, job_id=job_id).pk)
        if job.status != JobStatus.PAUSED:
            raise Conflict(f"only a paused job can be resumed; this one is {job.status}", param="fine_tuning_job_id")
        job.status, job.lease_expires_at, job.paused_at = JobStatus.QUEUED, None, None
        job.save(update_fields=["status", "lease_expires_at", "paused_at"])
        add_event(job, "Job resumed")
        status_changed(job, JobStatus.QUEUED)
        transaction.on_commit(ask_for_work)
    return job
