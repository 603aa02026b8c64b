"""The validation state of a commit (pending -> validating -> valid | invalid), changed only here. The task
claims a commit with a conditional update, so two deliveries never both run it, while a redelivery of the same
task (its worker died) or a claim whose lease expired may take it over."""

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core import outbox
from registry import page_cache
from registry.models import Commit, ValidationStatus
from registry.signals import commit_validated

log = logging.getLogger(__name__)


def claim_validation(*, commit_id: int, task_id: str) -> bool:
    """Move a commit to `validating` for this task. False when another live attempt holds it or it is done."""
    now = timezone.now()
    lease_expired = now - dt.timedelta(seconds=settings.VALIDATION_LEASE_SECONDS)
    claimable = Q(validation_status=ValidationStatus.PENDING) | Q(
        Q(validation_status=ValidationStatus.VALIDATING)
        & (Q(validation_task_id=task_id) | Q(validation_started_at__lt=lease_expired))
    )
    claimed = Commit.objects.filter(claimable, pk=commit_id).update(
        validation_status=ValidationStatus.VALIDATING, validation_started_at=now, validation_task_id=task_id
    )
    if claimed:
        page_cache.changed()  # the model page shows the commit's state
    return claimed == 1


def release_validation(*, commit_id: int, task_id: str, error: str) -> bool:
    """Give a crashed attempt's claim back (`pending`, with what went wrong) so that its retry may take it."""
    updated = Commit.objects.filter(
        pk=commit_id, validation_status=ValidationStatus.VALIDATING, validation_task_id=task_id
    ).update(validation_status=ValidationStatus.PENDING, validation_error=error)
    return updated == 1


def finish_validation(*, commit_id: int, task_id: str, report: dict | None, error: str = "") -> bool:
    """Record the outcome of the attempt that holds the claim. Later or stale attempts change nothing."""
    with transaction.atomic():
        updated = Commit.objects.filter(
            pk=commit_id, validation_status=ValidationStatus.VALIDATING, validation_task_id=task_id
        ).update(
            validation_status=ValidationStatus.INVALID if error else ValidationStatus.VALID,
            validation_error=error,
            validation_report=report or {},
            validated_at=timezone.now(),
        )
        if updated == 1:
            outbox.record("commit.validated", commit_id=commit_id, valid=not error)
    if updated != 1:
        return False
    page_cache.changed()
    model_id = Commit.objects.filter(pk=commit_id).values_list("model_id", flat=True).first()
    for receiver, result in commit_validated.send_robust(
        Commit, model_id=model_id, commit_id=commit_id, valid=not error
    ):
        if isinstance(result, Exception):
            log.error("%s failed after commit %s was validated: %r", receiver, commit_id, result)
    return True


def stuck_validations(*, older_than: dt.timedelta) -> list[int]:
    """Commits whose validation message was lost or whose claim expired: the reaper enqueues them again."""
    cutoff = timezone.now() - older_than
    return list(
        Commit.objects.filter(
            Q(validation_status=ValidationStatus.PENDING, created_at__lt=cutoff)
            | Q(
                validation_status=ValidationStatus.VALIDATING,
                validation_started_at__lt=timezone.now() - dt.timedelta(seconds=settings.VALIDATION_LEASE_SECONDS),
            )
        ).values_list("pk", flat=True)[:100]
    )
