"""The outbox's worker side: deliver due events (nudged after each change that records one, and on beat)."""

from celery import shared_task

from core import outbox


@shared_task(acks_late=False, ignore_result=True)
def deliver_outbox() -> int:
    return outbox.deliver_due()
