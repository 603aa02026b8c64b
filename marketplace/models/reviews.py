"""What consumers say about models: reviews (with the provider's one answer) and reports to the moderators, and the
record of who pulled a model's weights (with calls, what entitles a user to review it)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

MAX_REVIEW_CHARS = 2000
MAX_REPORT_CHARS = 2000


class Review(models.Model):
    """One user's stars and words about one model, tied to the commit they reviewed. Editable; one per user."""

    model = models.ForeignKey("registry.Model", on_delete=models.CASCADE, related_name="reviews")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviews")
    rating = models.PositiveSmallIntegerField()
    text = models.TextField(max_length=MAX_REVIEW_CHARS, blank=True)
    commit_sha = models.CharField(max_length=40, help_text="The commit the reviewer used (the listing's, then).")
    reply = models.TextField(max_length=MAX_REVIEW_CHARS, blank=True, help_text="The provider's one answer.")
    replied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["model", "user"], name="review_one_per_user_per_model"),
            models.CheckConstraint(condition=Q(rating__gte=1) & Q(rating__lte=5), name="review_rating_1_to_5"),
        ]
        indexes = [models.Index(fields=["model", "updated_at"], name="review_model_updated")]

    def __str__(self) -> str:
        return f"{self.rating}★ by {self.user_id} on {self.model_id}"


class ReportReason(models.TextChoices):
    SPAM = "spam"
    MISLEADING = "misleading", "misleading description or figures"
    HARMFUL = "harmful", "harmful or illegal output"
    COPYRIGHT = "copyright", "licence or copyright violation"
    OTHER = "other"


class ReportStatus(models.TextChoices):
    OPEN = "open"
    ACTED_ON = "acted_on", "acted on"
    DISMISSED = "dismissed"


class ListingReport(models.Model):
    """A user's report of a listing, for the moderators' queue (Django admin)."""

    listing = models.ForeignKey("marketplace.Listing", on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=16, choices=ReportReason.choices)
    text = models.TextField(max_length=MAX_REPORT_CHARS, blank=True)
    status = models.CharField(max_length=16, choices=ReportStatus.choices, default=ReportStatus.OPEN)
    resolution = models.TextField(blank=True, help_text="What the moderator did and why.")
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="report_status_created")]

    def __str__(self) -> str:
        return f"report {self.pk} of listing {self.listing_id}: {self.reason}"


class Pull(models.Model):
    """Someone other than its owner fetched weights of a model (the first time is kept)."""

    model = models.ForeignKey("registry.Model", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    first_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "user"], name="pull_once_per_user_per_model")]

    def __str__(self) -> str:
        return f"{self.user_id} pulled {self.model_id}"
