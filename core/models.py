"""The outbox: each domain event is a row written in the same transaction as the change it reports, so an event is
never lost when the change commits and never told when it rolls back. Consumers (core/outbox.py) read it from a
worker, with retries; a failing consumer delays the event, never the change."""

from django.db import models
from django.utils import timezone


class OutboxEvent(models.Model):
    kind = models.CharField(max_length=64)  # "commit.validated", "listing.published", "notification.email"...
    payload = models.JSONField(default=dict)  # ids and facts, never secrets
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)  # gave up after MAX_ATTEMPTS
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], name="outbox_due",
                condition=models.Q(delivered_at__isnull=True, failed_at__isnull=True),
            )
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"
