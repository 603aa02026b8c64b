"""/v1/fine_tuning/jobs over the generic job system: a fine-tuning job is a job of kind `finetune` or `pretrain`
(training/kinds.py), or of a compression kind that `method.type` names (quantize, prune, distill: compression/). This module turns the OpenAI request into a kind's spec and keeps the API's words (its
`fine_tuning_job_id` param, "No such fine-tuning job"); jobs/services.py does the rest."""

from accounts.models import ApiKey, User
from core.exceptions import NotFound, PermissionDenied
from jobs import services
from jobs.models import Job, JobCheckpoint, JobEvent
from training import method
from training.base import SCRATCH
from training.models import COMPRESSION, FineTuningJob

PARAM = "fine_tuning_job_id"


def create_job(
    *,
    user: User,
    api_key: ApiKey | None,
    model: str,
    training_file: str | None,
    validation_file: str | None = None,
    method_spec: dict | None = None,
    hyperparameters: dict | None = None,
    suffix: str | None = None,
    seed: int | None = None,
    metadata: dict | None = None,
) -> FineTuningJob:
    """Check everything, charge a paid download of the base once (as a pull would), hold the estimate, create the
    job `queued` and wake a worker. Any refusal creates and charges nothing."""
    if api_key is not None and not api_key.has_scope("finetune"):
        raise PermissionDenied("this API key lacks the 'finetune' scope")
    kind = method_spec.get("type") if isinstance(method_spec, dict) else None
    if isinstance(method_spec, dict) and kind not in method.TYPES:
        method.unsupported(kind)
    if kind not in COMPRESSION:
        scratch = model == SCRATCH or kind == "pretrain"
        kind = "pretrain" if scratch else "finetune"
    spec = {"model": model, "training_file": training_file, "validation_file": validation_file, "method": method_spec,
            "hyperparameters": hyperparameters, "suffix": suffix, "seed": seed, "metadata": metadata}  # fmt: skip
    job = services.submit(user=user, api_key=api_key, kind=kind, spec=spec)
    return get_job(user=user, job_id=job.public_id)


def _jobs(user: User):
    return FineTuningJob.objects.filter(owner=user).select_related("owner").prefetch_related("inputs__file")


def get_job(*, user: User, job_id: str) -> FineTuningJob:
    job = _jobs(user).filter(public_id=job_id).first()
    if job is None:
        raise NotFound(f"No such fine-tuning job: {job_id}", param=PARAM)
    return job


def list_jobs(*, user: User, after: str | None, limit: int) -> list[FineTuningJob]:
    found = _jobs(user)
    if after:
        found = found.filter(id__lt=get_job(user=user, job_id=after).pk)
    return list(found.order_by("-id")[:limit])


def list_events(*, user: User, job_id: str, after: str | None, limit: int) -> list[JobEvent]:
    job = get_job(user=user, job_id=job_id)
    return services.list_events(job, after=services.cursor(after, "ftevent-") if after else None, limit=limit)


def list_checkpoints(*, user: User, job_id: str, after: str | None, limit: int) -> list[JobCheckpoint]:
    job = get_job(user=user, job_id=job_id)
    return services.list_checkpoints(job, after=services.cursor(after, "ftckpt-") if after else None, limit=limit)


def cancel_job(*, user: User, job_id: str) -> Job:
    return services.cancel(get_job(user=user, job_id=job_id), param=PARAM)


def pause_job(*, user: User, job_id: str) -> Job:
    return services.pause(get_job(user=user, job_id=job_id), param=PARAM)


def resume_job(*, user: User, job_id: str) -> Job:
    return services.resume(get_job(user=user, job_id=job_id), param=PARAM)
