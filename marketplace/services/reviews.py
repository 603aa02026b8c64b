"""Reviews and reports.

- A review is 1-5 stars and text, one per user per model, editable, tied to the commit the listing served when it
  was written. Only a user who called the model (or paid for its weights: both land in their usage rollups) or
  pulled its weights may review it; never its owner. The provider may answer each review once.
- A report sends a published listing to the moderators' queue (Django admin) with a reason.
- Both are rate-limited per user (REVIEWS_PER_HOUR, REPORTS_PER_HOUR), and the listing's rating follows every
  review (ListingStats.rating, rating_count)."""

from django.conf import settings
from django.db import transaction
from django.db.models import Avg, Count
from django.utils import timezone

from accounts.models import User
from core.exceptions import Conflict, InvalidInput, NotFound, PermissionDenied, RateLimited
from marketplace.models import (
    ConsumerUsageDaily,
    Listing,
    ListingReport,
    ListingStats,
    Pull,
    ReportReason,
    ReportStatus,
    Review,
)
from marketplace.models.reviews import MAX_REPORT_CHARS, MAX_REVIEW_CHARS
from marketplace.services import limits, listings, offers
from registry import page_cache
from registry.exceptions import RevisionNotFound
from registry.models import Model

HOUR = 3600


def _rate(name: str, user: User, per_hour: int) -> None:
    wait = limits.count_action(name, subject=user.pk, limit=per_hour, window_seconds=HOUR)
    if wait is not None:
        raise RateLimited(f"too many {name}s: try again in {wait} s", limit_type="requests",
                          headers={"Retry-After": str(wait)})  # fmt: skip


def _text(value, *, param: str, limit: int) -> str:
    text = str(value or "").strip()
    if len(text) > limit:
        raise InvalidInput(f"{param} must be at most {limit} characters", param=param)
    if "\x00" in text:
        raise InvalidInput(f"{param} must not contain NUL characters", param=param)
    return text


def may_review(*, model: Model, user) -> bool:
    """Whether `user` has used `model`: called it (or paid for its weights) or pulled its weights; not its owner."""
    if user is None or not user.is_authenticated or user.pk == model.owner_id:
        return False
    return (
        ConsumerUsageDaily.objects.filter(user=user, model_label=model.repo_id).exists()
        or Pull.objects.filter(model=model, user=user).exists()
    )


def record_pull(*, model: Model, user) -> None:
    """Someone other than the owner fetched weights of `model` (kept once)."""
    if user is not None and user.is_authenticated and user.pk != model.owner_id:
        Pull.objects.get_or_create(model=model, user=user)


def _reviewed_sha(model: Model) -> str:
    listing = Listing.objects.filter(model=model).only("revision").first()
    try:
        return offers.servable_commit(
            model=model, revision=listing.revision if listing else offers.DEFAULT_REVISION
        ).sha
    except (RevisionNotFound, offers.NotServable):
        return ""


def save_review(*, model: Model, user: User, rating, text: str = "") -> Review:
    """Create or edit `user`'s review of `model`."""
    try:
        stars = int(str(rating).strip())
    except ValueError:
        stars = 0
    if not 1 <= stars <= 5:
        raise InvalidInput("rating must be a whole number from 1 to 5", param="rating")
    text = _text(text, param="text", limit=MAX_REVIEW_CHARS)
    if not may_review(model=model, user=user):
        raise PermissionDenied("only people who called this model or pulled its weights may review it")
    _rate("review", user, settings.REVIEWS_PER_HOUR)
    with transaction.atomic():
        review, _ = Review.objects.update_or_create(
            model=model, user=user,
            defaults={"rating": stars, "text": text, "commit_sha": _reviewed_sha(model), "updated_at": timezone.now()},
        )  # fmt: skip
        update_rating(model)
    return review


def reply(*, review_id: int, by: User, text: str) -> Review:
    """The model's owner answers a review, once."""
    text = _text(text, param="reply", limit=MAX_REVIEW_CHARS)
    if not text:
        raise InvalidInput("reply must not be empty", param="reply")
    with transaction.atomic():
        review = Review.objects.select_for_update().select_related("model").filter(pk=review_id).first()
        if review is None or review.model.owner_id != by.pk:
            raise NotFound("no such review")
        if review.reply:
            raise Conflict("this review has been answered already")
        review.reply, review.replied_at = text, timezone.now()
        review.save(update_fields=["reply", "replied_at"])
    return review


def update_rating(model: Model) -> None:
    """The model's listing shows the mean of its reviews."""
    figures = Review.objects.filter(model=model).aggregate(mean=Avg("rating"), count=Count("id"))
    ListingStats.objects.filter(listing__model=model).update(
        rating=round(figures["mean"], 2) if figures["mean"] is not None else None, rating_count=figures["count"]
    )
    page_cache.changed()


def report_listing(*, listing: Listing, by: User, reason: str, text: str = "") -> ListingReport:
    """Send a published listing to the moderators with a reason."""
    if reason not in ReportReason.values:
        raise InvalidInput(f"reason must be one of {', '.join(ReportReason.values)}", param="reason")
    text = _text(text, param="text", limit=MAX_REPORT_CHARS)
    if reason == ReportReason.OTHER and not text:
        raise InvalidInput("say what is wrong", param="text")
    _rate("report", by, settings.REPORTS_PER_HOUR)
    return ListingReport.objects.create(listing=listing, reporter=by, reason=reason, text=text)


def resolve_report(*, report_id: int, by: User, suspend: bool, note: str) -> ListingReport:
    """A moderator's decision on a report: suspend the listing (the note is the reason its provider sees; every open
    report of that listing is then acted on) or dismiss the report. Either way the note is kept."""
    note = _text(note, param="resolution", limit=MAX_REPORT_CHARS)
    with transaction.atomic():
        report = ListingReport.objects.select_for_update().filter(pk=report_id).first()
        if report is None:
            raise NotFound("no such report")
        if report.status != ReportStatus.OPEN:
            raise Conflict(f"this report is {report.get_status_display()} already")
        now = timezone.now()
        if suspend:
            listings.review_listing(listing_id=report.listing_id, approve=False, reason=note, by=by)
            ListingReport.objects.filter(listing_id=report.listing_id, status=ReportStatus.OPEN).update(
                status=ReportStatus.ACTED_ON, resolution=note, resolved_by=by, resolved_at=now
            )
        else:
            ListingReport.objects.filter(pk=report.pk).update(
                status=ReportStatus.DISMISSED, resolution=note, resolved_by=by, resolved_at=now
            )
        report.refresh_from_db()
    return report
