"""What the catalogue shows, filters and sorts listings by, kept beside each listing so that a page of the catalogue
is one query over one join, however many listings there are.

A row holds facts of the commit the listing serves (from its validation report and lineage), the text search runs
over (with a PostgreSQL tsvector and its GIN index), and figures measured from usage. marketplace/services/
catalogue.py is its one writer: on every change to a listing, and from beat every CATALOGUE_REFRESH_SECONDS."""

from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone


class ListingStats(models.Model):
    listing = models.OneToOneField(
        "marketplace.Listing", primary_key=True, on_delete=models.CASCADE, related_name="stats"
    )
    commit_sha = models.CharField(max_length=40, blank=True, help_text="The commit these facts describe.")
    parameters = models.BigIntegerField(null=True, blank=True)
    context_length = models.PositiveIntegerField(null=True, blank=True)
    architecture = models.CharField(max_length=64, blank=True)
    base_model = models.CharField(
        max_length=200, blank=True, help_text="The repository this one was fine-tuned or derived from."
    )
    tags_text = models.CharField(
        max_length=400, blank=True, help_text="The listing's tags as ' a b c ' so a tag filter is a substring test."
    )
    card_text = models.TextField(blank=True, help_text="The card's Markdown body, cut to CARD_TEXT_LIMIT characters.")
    calls_7d = models.PositiveIntegerField(default=0, help_text="Calls by others in the last 7 days.")
    calls_30d = models.PositiveIntegerField(default=0, help_text="Calls by others in the last 30 days.")
    tokens_per_second = models.FloatField(
        null=True, blank=True, help_text="Completion tokens per second of wall time over its served calls (7 days)."
    )
    rating = models.FloatField(null=True, blank=True)
    rating_count = models.PositiveIntegerField(default=0)
    search_vector = SearchVectorField(null=True, blank=True, help_text="PostgreSQL only; NULL on SQLite.")
    refreshed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "listing stats"
        indexes = [
            models.Index(fields=["calls_7d"], name="stats_calls_7d"),
            models.Index(fields=["calls_30d"], name="stats_calls_30d"),
            models.Index(fields=["parameters"], name="stats_parameters"),
            models.Index(fields=["base_model"], name="stats_base_model"),
        ]

    def __str__(self) -> str:
        return f"stats of listing {self.listing_id}"
