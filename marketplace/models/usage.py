"""Metering: a Reservation holds the maximum cost of a call in flight; a UsageRecord is what it really used.

A reservation exists only while its call is in flight: settling or releasing it deletes it and writes the usage
record in the same statement, so the table stays small and deleting costs no index updates.

Daily rollups are updated in the same transaction as each usage record, so reports never scan raw records.
Model and commit are kept as text as well as links, so history survives a deleted repository."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class MeteredCall(models.Model):
    """What identifies a call: its request id, the caller, and the model revision and prices it used.

    Every index costs time on every charge, so only the ones a query needs exist: the request id (unique, as a
    constraint so PostgreSQL gets no second pattern index) and those declared by each table."""

    request_id = models.CharField(max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="%(class)ss", db_index=False
    )  # usage records index (user, created_at); reservations are few
    # Links that history outlives: Django nulls them when the key, model or card is deleted. No database
    # constraint and no index of their own; the labels keep the history readable.
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False,
        db_index=False,
    )  # fmt: skip
    model = models.ForeignKey(
        "registry.Model", null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False,
        db_index=False,
    )  # fmt: skip
    model_label = models.CharField(max_length=140)
    commit_sha = models.CharField(max_length=40)
    price_card = models.ForeignKey(
        "marketplace.PriceCard",
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.request_id


class Reservation(MeteredCall):
    """Credits held for one call (by request id) until it is settled or voided."""

    payee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", db_index=False,
        help_text="Empty when free.",
    )  # fmt: skip
    prompt_price = models.BigIntegerField(default=0)
    completion_price = models.BigIntegerField(default=0)
    reserved_tokens = models.PositiveIntegerField()
    max_cost = models.BigIntegerField()
    spend_key = models.CharField(max_length=64, blank=True, help_text="The Redis spend counter it reserved on.")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["expires_at"])]
        constraints = [
            models.UniqueConstraint(fields=["request_id"], name="reservation_unique_request_id"),
            models.CheckConstraint(condition=Q(max_cost__gte=0), name="reservation_cost_not_negative"),
        ]


class UsageStatus(models.TextChoices):
    OK = "ok"
    ERROR = "error"
    CANCELLED = "cancelled"
    EXPIRED = "expired", "expired (never settled)"


class UsageRecord(MeteredCall):
    """One served request: who called what, how many tokens, what it cost."""

    prompt_tokens = models.PositiveIntegerField()
    completion_tokens = models.PositiveIntegerField()
    cost = models.BigIntegerField()
    fee = models.BigIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=UsageStatus.choices, default=UsageStatus.OK)
    transaction = models.OneToOneField(
        "LedgerTransaction", null=True, blank=True, on_delete=models.PROTECT, related_name="usage_record"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "created_at"]), models.Index(fields=["api_key", "created_at"])]
        constraints = [models.UniqueConstraint(fields=["request_id"], name="usage_record_unique_request_id")]


class ConsumerUsageDaily(models.Model):
    """A consumer's use of one model with one key on one UTC day."""

    day = models.DateField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key_id = models.BigIntegerField(default=0, help_text="The ApiKey id, or 0 for calls from a browser session.")
    model_label = models.CharField(max_length=140)
    requests = models.PositiveIntegerField(default=0)
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    cost = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["day", "model_label"]
        constraints = [
            models.UniqueConstraint(fields=["user", "day", "key_id", "model_label"], name="consumer_usage_daily_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.model_label} by {self.user_id}"


class ProviderEarningsDaily(models.Model):
    """What a provider's model revision earned on one UTC day."""

    day = models.DateField()
    provider = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    model_label = models.CharField(max_length=140)
    commit_sha = models.CharField(max_length=40)
    requests = models.PositiveIntegerField(default=0)
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    gross = models.BigIntegerField(default=0)
    earnings = models.BigIntegerField(default=0)
    fee = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["day", "model_label"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "day", "model_label", "commit_sha"], name="provider_earnings_daily_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.model_label}@{self.commit_sha[:8]}"
