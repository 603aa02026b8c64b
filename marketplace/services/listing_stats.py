"""ListingStats, written only here: the facts of the commit a listing serves (its validation report, lineage and
card), the text search runs over, calls in 7 and 30 days, measured tokens/s. The catalogue reads them
(marketplace/services/catalogue.py); every change here drops the cached storefront pages (page_cache.changed)."""

import datetime as dt

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Q, Sum
from django.utils import timezone

from accounts.models import User
from marketplace.models import ConsumerUsageDaily, Listing, ListingStats, UsageRecord, UsageStatus
from marketplace.services import offers
from registry.cards import read_card, split_front_matter
from registry.exceptions import RevisionNotFound
from registry.models import Commit, Model
from registry.page_cache import changed

CARD_TEXT_LIMIT = 20_000
SEARCH_CONFIG = "english"


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _base_model(commit: Commit | None, meta: dict) -> str:
    if commit is not None and (commit.lineage or {}).get("base_model"):
        return str(commit.lineage["base_model"])[:200]
    declared = meta.get("base_model")
    if isinstance(declared, list):
        declared = declared[0] if declared else ""
    return str(declared or "")[:200]


SEARCH_VECTOR_SQL = f"""
UPDATE {ListingStats._meta.db_table} AS stats SET search_vector =
    setweight(to_tsvector('{SEARCH_CONFIG}', listing.title || ' ' || owner.username || '/' || model.name || ' '
                          || model.name), 'A')
    || setweight(to_tsvector('{SEARCH_CONFIG}', listing.summary || ' ' || stats.tags_text), 'B')
    || setweight(to_tsvector('{SEARCH_CONFIG}', stats.card_text), 'C')
FROM {Listing._meta.db_table} AS listing
    JOIN {Model._meta.db_table} AS model ON model.id = listing.model_id
    JOIN {User._meta.db_table} AS owner ON owner.id = model.owner_id
WHERE listing.id = stats.listing_id"""


def update_search_vectors(listing_ids: list[int] | None = None) -> None:
    """PostgreSQL: recompute the tsvector of these listings (all when None) from their title, name, summary, tags
    and card; the weights make a name match rank above a summary or tag match, and those above the card."""
    with connection.cursor() as cursor:
        if listing_ids is None:
            cursor.execute(SEARCH_VECTOR_SQL)
        else:
            cursor.execute(f"{SEARCH_VECTOR_SQL} AND stats.listing_id = ANY(%s)", [list(listing_ids)])


def refresh_listing(listing: Listing) -> ListingStats:
    """Recompute a listing's facts from the commit it serves (none while it has no servable commit) and its text."""
    try:
        commit: Commit | None = offers.servable_commit(model=listing.model, revision=listing.revision)
    except (RevisionNotFound, offers.NotServable):
        commit = None
    report = commit.validation_report if commit is not None else {}
    meta, body = split_front_matter(read_card(commit))
    tags = " ".join(listing.tags)
    stats, _ = ListingStats.objects.update_or_create(
        listing=listing,
        defaults={
            "commit_sha": commit.sha if commit is not None else "",
            "parameters": report.get("parameters"),
            "context_length": report.get("context_length"),
            "architecture": str(report.get("architecture") or "")[:64],
            "base_model": _base_model(commit, meta),
            "tags_text": f" {tags} " if tags else "",
            "card_text": body[:CARD_TEXT_LIMIT],
            "refreshed_at": timezone.now(),
        },
    )
    if _is_postgres():
        update_search_vectors([listing.pk])
    changed()
    return stats


def on_commit_validated(sender, *, model_id: int, **_facts) -> None:  # noqa: ARG001  (a signal's signature)
    """registry.signals.commit_validated: the commit the model's listing serves may have changed."""
    listing = Listing.objects.select_related("model__owner").filter(model_id=model_id).first()
    if listing is not None:
        refresh_listing(listing)


def refresh_missing(*, limit: int = 200) -> int:
    """Listings whose facts were never found (made before the catalogue, or serving nothing yet): refresh them."""
    missing = Listing.objects.select_related("model__owner").filter(Q(stats__isnull=True) | Q(stats__commit_sha=""))
    count = 0
    for listing in missing.order_by("pk")[:limit]:
        refresh_listing(listing)
        count += 1
    return count


def refresh_usage(*, now: dt.datetime | None = None) -> int:
    """Recompute calls in 7 and 30 days (by others than the provider) and measured tokens/s for every listing,
    from the daily rollups and the last 7 days of usage records. Returns how many rows changed."""
    now = now or timezone.now()
    today = now.date()
    owners = {
        f"{username}/{name}": (listing_id, owner_id)
        for listing_id, owner_id, username, name in Listing.objects.values_list(
            "pk", "model__owner_id", "model__owner__username", "model__name"
        )
    }
    calls: dict[int, list[int]] = {}
    rows = (
        ConsumerUsageDaily.objects.filter(day__gt=today - dt.timedelta(days=30))
        .values("model_label", "user_id")
        .annotate(month=Sum("requests"), week=Sum("requests", filter=Q(day__gt=today - dt.timedelta(days=7))))
    )
    for row in rows:
        listing_id, owner_id = owners.get(row["model_label"], (None, None))
        if listing_id is None or row["user_id"] == owner_id:
            continue
        counts = calls.setdefault(listing_id, [0, 0])
        counts[0] += row["week"] or 0
        counts[1] += row["month"] or 0
    speeds = {
        row["model_id"]: row["tokens"] * 1000 / row["ms"]
        for row in UsageRecord.objects.filter(
            created_at__gte=now - dt.timedelta(days=7), status=UsageStatus.OK, completion_tokens__gt=0,
            latency_ms__gt=0, model__isnull=False,
        ).values("model_id").annotate(tokens=Sum("completion_tokens"), ms=Sum("latency_ms"))
    }  # fmt: skip
    updated = []
    for stats in ListingStats.objects.select_related("listing").only(
        "pk", "calls_7d", "calls_30d", "tokens_per_second", "listing__model_id"
    ):
        week, month = calls.get(stats.pk, (0, 0))
        speed = speeds.get(stats.listing.model_id)
        speed = round(speed, 1) if speed is not None else None
        if (stats.calls_7d, stats.calls_30d, stats.tokens_per_second) != (week, month, speed):
            stats.calls_7d, stats.calls_30d, stats.tokens_per_second = week, month, speed
            updated.append(stats)
    ListingStats.objects.bulk_update(updated, ["calls_7d", "calls_30d", "tokens_per_second"], batch_size=500)
    cache.set(COUNTED_AT_KEY, now.timestamp(), timeout=None)
    changed()  # every page that shows the figures says when they were counted: it changed even if they did not
    return len(updated)


COUNTED_AT_KEY = "catalogue:usage-counted-at"


def usage_counted_at() -> dt.datetime | None:
    """When refresh_usage last counted calls and speeds (None: not since Redis started), for the pages that show
    them: a figure says when it was computed."""
    stamp = cache.get(COUNTED_AT_KEY)
    return dt.datetime.fromtimestamp(stamp, tz=dt.UTC) if isinstance(stamp, int | float) else None


def counted_note() -> dict:
    """When the calls and speeds were counted, and how often they are (a figure says when it was computed)."""
    return {"at": usage_counted_at(), "every": max(1, settings.CATALOGUE_REFRESH_SECONDS // 60)}
