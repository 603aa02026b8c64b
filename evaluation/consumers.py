"""Every commit that becomes valid is evaluated: the outbox's `commit.validated` event asks for its evaluation job
(once; a second delivery finds the job queued)."""

from django.conf import settings

from core import outbox
from evaluation import services
from registry.models import Commit, ValidationStatus


@outbox.consumer("commit.validated")
def evaluate_valid_commit(event) -> None:
    if not settings.EVALUATE_VALID_COMMITS or not event.payload.get("valid"):
        return
    commit = Commit.objects.select_related("model").filter(pk=event.payload["commit_id"]).first()
    if commit is None or commit.validation_status != ValidationStatus.VALID:
        return  # deleted since, or revalidated as invalid
    if services.standard_result(commit) is None:
        services.request_evaluation(commit)
