"""Accounts and API keys. A user's username is their namespace (`owner` in `owner/name`)."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

NAMESPACE_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,37}[A-Za-z0-9])?\Z"  # \Z: $ also matches before a final newline
namespace_validator = RegexValidator(
    NAMESPACE_PATTERN,
    "Use 1-39 letters, digits, '-', '_' or '.', starting and ending with a letter or digit.",
)


def default_quota() -> int:
    return settings.DEFAULT_STORAGE_QUOTA_BYTES


class User(AbstractUser):
    """A person or bot on the store. Owns the namespace named by its username."""

    username = models.CharField(
        "username",
        max_length=39,
        unique=True,
        validators=[namespace_validator],
        error_messages={"unique": "That name is taken."},
    )
    storage_quota_bytes = models.BigIntegerField(default=default_quota)
    storage_used_bytes = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(storage_used_bytes__gte=0), name="user_storage_used_not_negative"),
        ]


class Scope(models.TextChoices):
    READ = "read", "Read: download models"
    WRITE = "write", "Write: create repos and push commits"
    INFER = "infer", "Infer: call models"
    FINETUNE = "finetune", "Fine-tune: start training jobs"


class ApiKeyQuerySet(models.QuerySet):
    def active(self) -> "ApiKeyQuerySet":
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class SpendPeriod(models.TextChoices):
    DAY = "day", "per day (UTC)"
    WEEK = "week", "per week (ISO, UTC)"
    MONTH = "month", "per month (UTC)"
    TOTAL = "total", "in total"


class ApiKey(models.Model):
    """A scoped bearer credential. Only its SHA-256 is stored; the secret is shown once.

    Limits left empty fall back to the store's defaults (settings.DEFAULT_KEY_RPM / DEFAULT_KEY_TPM);
    an empty spend limit means the key may spend the whole wallet."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The first characters of the key, to recognise it in lists.")
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    rpm_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Requests per minute.")
    tpm_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Tokens per minute.")
    spend_limit = models.BigIntegerField(null=True, blank=True, help_text="Micro-credits per spend period.")
    spend_period = models.CharField(max_length=8, choices=SpendPeriod.choices, default=SpendPeriod.MONTH)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(spend_limit__isnull=True) | Q(spend_limit__gte=0), name="api_key_spend_limit_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def effective_rpm(self) -> int:
        return self.rpm_limit if self.rpm_limit is not None else settings.DEFAULT_KEY_RPM

    @property
    def effective_tpm(self) -> int:
        return self.tpm_limit if self.tpm_limit is not None else settings.DEFAULT_KEY_TPM


class NotificationKind(models.TextChoices):
    LISTING_APPROVED = "listing_approved", "listing approved"
    LISTING_SUSPENDED = "listing_suspended", "listing suspended or rejected"
    JOB_SUCCEEDED = "job_succeeded", "job finished"
    JOB_FAILED = "job_failed", "job failed"
    LOW_BALANCE = "low_balance", "low balance"


class Notification(models.Model):
    """Something the store tells a user: shown on their pages until read, and emailed when email is configured."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    message = models.TextField()
    link = models.CharField(max_length=300, blank=True, help_text="A path on this site, e.g. /alice/tiny-gpt/listing")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_unread")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"
