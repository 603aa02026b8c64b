"""The `evaluate` job kind: the store measures one valid commit (the standard set, speed and footprint, and the
commit's own evals/ files) on a worker of EVALUATION_RESOURCE_CLASS (any: a GPU worker when one is free). The store
pays for it: its price is 0, and its owner is the model's owner, who sees it among their jobs."""

from django.conf import settings

from accounts.models import ApiKey, User
from core.exceptions import InvalidInput, NotFound
from jobs.kinds import JobKind, Plan, register
from registry.models import Commit, ValidationStatus


@register
class Evaluate(JobKind):
    name = "evaluate"
    id_prefix = "eval"
    unit = "second"
    noun = "evaluation"
    started = "Evaluation started"
    charge_key = "eval"
    notifies = False  # one per commit: the listing's own news tells the provider what matters

    def plan(self, *, user: User, api_key: ApiKey | None, spec: dict) -> Plan:  # noqa: ARG002  (free)
        commit_id = spec.get("commit_id")
        commit = (
            Commit.objects.select_related("model").filter(pk=commit_id).first() if isinstance(commit_id, int) else None
        )
        if commit is None or commit.model.owner_id != user.pk:
            raise NotFound("no such commit")
        if commit.validation_status != ValidationStatus.VALID:
            raise InvalidInput(f"commit {commit.sha[:12]} is {commit.validation_status}: only a valid commit is "
                               "evaluated", param="revision")  # fmt: skip
        label = f"{commit.model.repo_id}@{commit.sha}"
        return Plan(params={"commit": commit.sha}, estimated_units=0, base_model=commit.model, base_commit=commit,
                    base_label=label, resource_class=settings.EVALUATION_RESOURCE_CLASS,
                    events=[f"Created evaluation {{job}} of {label}"])  # fmt: skip

    def price(self, units: int) -> int:  # noqa: ARG002
        return 0

    def run(self, run) -> int:
        from evaluation import run as worker  # the ML runtime loads in job workers only

        return worker.evaluate(run)
