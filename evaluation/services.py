"""Asking for evaluations and reading their results. The work is evaluation/run.py's, in a job worker."""

import dataclasses

from django.db import transaction

from accounts.models import User
from evaluation import standard_set
from evaluation.models import DatasetKind, Evaluation
from jobs import services as jobs
from jobs.models import FINISHED, Job
from registry.models import Commit, Model

KIND = "evaluate"


def latest_job(commit: Commit) -> Job | None:
    return Job.objects.filter(kind=KIND, base_commit=commit).order_by("-id").first()


def job_under_way(commit: Commit) -> Job | None:
    """The commit's evaluation job that has not finished (queued or running), if any: the one rule the gate, the
    API and the model page read."""
    job = latest_job(commit)
    return job if job is not None and job.status not in FINISHED else None


def request_evaluation(commit: Commit) -> Job:
    """The commit's evaluation job: the one queued or running, else a new one (owned by the model's owner)."""
    with transaction.atomic():
        Commit.objects.select_for_update().filter(pk=commit.pk).first()  # two asks at once make one job
        running = job_under_way(commit)
        if running is not None:
            return running
        return jobs.submit(user=commit.model.owner, api_key=None, kind=KIND, spec={"commit_id": commit.pk})


def standard_result(commit: Commit) -> Evaluation | None:
    """The commit's result on the current standard set, if it has one."""
    return Evaluation.objects.standard(standard_set.load()).filter(commit=commit).first()


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What an evaluation job found on one data set, before it is stored."""

    kind: str
    name: str
    version: str
    sha256: str
    form: str
    status: str
    metrics: dict
    reports: dict
    error: str
    seconds: float


def record_results(*, job: Job, commit: Commit, device: str, outcomes: list[Outcome]) -> list[Evaluation]:
    """Store the job's results in one transaction, replacing an earlier run's on the same set and method: a job
    redone after its worker died stores each result once."""
    stored = []
    with transaction.atomic():
        for outcome in outcomes:
            row, _ = Evaluation.objects.update_or_create(
                commit=commit, dataset_kind=outcome.kind, dataset_name=outcome.name, dataset_sha256=outcome.sha256,
                method_version=Evaluation._meta.get_field("method_version").default,
                defaults={"job": job, "dataset_version": outcome.version, "form": outcome.form,
                          "status": outcome.status, "verified": True, "device": device,
                          "duration_seconds": outcome.seconds, "metrics": outcome.metrics,
                          "reports": outcome.reports, "error": outcome.error},
            )  # fmt: skip
            stored.append(row)
    return stored


def results(commit: Commit) -> list[Evaluation]:
    """The commit's results: the current standard set first, then its files by path."""
    rows = list(Evaluation.objects.filter(commit=commit).order_by("dataset_kind", "dataset_name"))
    current = standard_set.load()
    return [row for row in rows if row.dataset_kind == DatasetKind.PROVIDER or row.dataset_sha256 == current.sha256]


def comparison_base(commit: Commit) -> Commit | None:
    """The commit its figures are set beside: the one it was derived from, else its parent."""
    return commit.base_commit or commit.parent


def may_ask(user: User, model: Model) -> bool:
    return user.is_authenticated and model.owner_id == user.pk


def evaluate_now(commit: Commit) -> Job:
    """Evaluate the commit in this process (the operator's publish and the demo build), through the job system:
    the same job, results and events as a worker's. Outside any transaction: the work commits as it goes."""
    from jobs import kinds, leases, runner  # the worker side, loaded only by who runs work

    job = request_evaluation(commit)
    claimed = leases.claim_job(worker=runner.WORKER, resources=("cpu", "gpu", "any"), job_id=job.pk)
    if claimed is None:
        return job  # a worker took it first
    try:
        units = kinds.get(KIND).run(runner.Run(claimed, _Here()))
    except Exception as exc:
        leases.finish_job(claimed, status="failed", error={"code": "job_failed", "param": None,
                                                           "message": f"{type(exc).__name__}: {exc}"[:500]})  # fmt: skip
    else:
        leases.finish_job(claimed, status="succeeded", units=units)
    claimed.refresh_from_db()
    return claimed


class _Here:
    """The heartbeat of a job run in the caller's process: nobody else holds it, and nothing asks it to stop."""

    def reason(self) -> None:
        return None
