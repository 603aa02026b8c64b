"""Listings: the public face of a model in the store, with versioned price cards."""

import re

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

LICENSE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.+-]{0,63}$")
TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
MAX_TAGS = 10


class ListingStatus(models.TextChoices):
    DRAFT = "draft"
    PENDING_REVIEW = "pending_review", "pending review"
    EVALUATING = "evaluating", "waiting for its evaluation"  # the provider asked to publish; live once it succeeded
    PUBLISHED = "published"
    SUSPENDED = "suspended"


class Category(models.TextChoices):
    GENERAL = "general"
    CHAT = "chat"
    CODE = "code"
    WRITING = "writing"
    RESEARCH = "research"
    OTHER = "other"


class ListingQuerySet(models.QuerySet):
    def published(self) -> "ListingQuerySet":
        """Listings anyone may see and call: published, on a model that is still public."""
        return self.filter(status=ListingStatus.PUBLISHED, model__is_private=False)

    def editable_by(self, user) -> "ListingQuerySet":
        if user is None or not user.is_authenticated:
            return self.none()
        return self.filter(model__owner=user)


class Listing(models.Model):
    """How a model is offered: what it is, under which licence, which revision, at what price."""

    model = models.OneToOneField("registry.Model", on_delete=models.CASCADE, related_name="listing")
    title = models.CharField(max_length=120)
    summary = models.CharField(max_length=300, blank=True)
    category = models.CharField(max_length=16, choices=Category.choices, default=Category.GENERAL)
    tags = models.JSONField(default=list, blank=True)
    license = models.CharField(max_length=64, default="other", help_text="An SPDX id such as mit or apache-2.0.")
    is_downloadable = models.BooleanField(
        default=False, help_text="Consumers may download the weights, not only call the model."
    )
    revision = models.CharField(
        max_length=100, default="main", help_text="A branch (follows its newest valid commit), a tag or a commit sha."
    )
    status = models.CharField(max_length=16, choices=ListingStatus.choices, default=ListingStatus.DRAFT)
    featured = models.BooleanField(default=False, help_text="Shown first on the home page (set by an operator).")
    review_note = models.TextField(blank=True, help_text="Why the listing was suspended; shown to the provider.")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The operator who last approved or suspended it (empty: published without review).",
    )  # fmt: skip
    price_card = models.ForeignKey(
        "PriceCard", null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="The current prices."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)

    objects = ListingQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-id"]
        indexes = [models.Index(fields=["status", "category"])]

    def __str__(self) -> str:
        return self.title


class PriceCard(models.Model):
    """Prices of a listing from `created_at` on. Never edited: a new price is a new card, so every usage
    record keeps pointing at the prices it was charged at."""

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="price_cards")
    prompt_price = models.BigIntegerField(help_text="Micro-credits per 1M prompt tokens.")
    completion_price = models.BigIntegerField(help_text="Micro-credits per 1M completion tokens.")
    download_price = models.BigIntegerField(default=0, help_text="Micro-credits per download of the weights.")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(prompt_price__gte=0) & Q(completion_price__gte=0) & Q(download_price__gte=0),
                name="price_card_prices_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"card {self.pk} of listing {self.listing_id}"

    @property
    def is_free(self) -> bool:
        return self.prompt_price == 0 and self.completion_price == 0
