"""Fine-tuning jobs written straight into the database, for tests of what reads them (pages, the admin, leases)."""

from jobs import kinds
from jobs.models import Job, JobFile
from jobs.services import new_id

SUPERVISED = {"type": "supervised", "supervised": {"hyperparameters": {}}}


def fine_tuning_job(*, owner, commit, data, method: dict | None = None, base_label: str = "x", seed: int = 1,
                    estimated_tokens: int = 10, **fields) -> Job:  # fmt: skip
    """A `finetune` job of `owner` on `commit` with `data` as its training file; `fields` set any other column."""
    job = Job.objects.create(
        public_id=new_id(kinds.get("finetune")), kind="finetune", owner=owner, base_model=commit.model,
        base_commit=commit, base_label=base_label, params={"method": method or SUPERVISED, "suffix": "", "seed": seed},
        estimated_units=estimated_tokens, resource_class="any", **fields,
    )  # fmt: skip
    JobFile.objects.create(job=job, file=data, role="training")
    return job
