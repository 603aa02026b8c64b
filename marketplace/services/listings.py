"""Listings and price cards: create, edit, price, submit for review, review, publish, unpublish."""

import contextlib

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import notifications
from accounts.models import NotificationKind, User
from core import outbox
from core.exceptions import Conflict, InvalidInput, NotFound
from marketplace.models import Category, Listing, ListingStatus, PriceCard
from marketplace.models.listings import LICENSE_PATTERN, MAX_TAGS, TAG_PATTERN
from marketplace.money import parse_credits, short_credits
from marketplace.services import listing_stats, offers, publish_gate
from registry import page_cache
from registry.exceptions import RevisionNotFound
from registry.models import Commit, Model


def get_editable_listing(*, model: Model, by: User) -> Listing | None:
    """The model's listing if `by` owns the model; NotFound otherwise (someone else's listing is not theirs
    to see in edit form, and a private model does not exist for them)."""
    if model.owner_id != by.pk:
        raise NotFound(f"Repository not found: {model.repo_id}")
    return Listing.objects.filter(model=model).select_related("price_card").first()


def defaults_from_card(model: Model) -> dict:
    """A new listing's form, filled from what the provider already wrote: the card's `license` and `tags` (those
    the store's rules take) and the model's one-line description (issue #23: the licence said "other" beside a
    card saying `license: mit`)."""
    meta = model.card_data or {}
    license = meta.get("license")
    tags = meta.get("tags")
    kept = [tag.strip().lower() for tag in tags if isinstance(tag, str)] if isinstance(tags, list) else []
    initial = {"title": model.repo_id, "summary": model.description,
               "tags": ", ".join(tag for tag in kept if TAG_PATTERN.fullmatch(tag))[:500]}  # fmt: skip
    if isinstance(license, str) and LICENSE_PATTERN.fullmatch(license.strip().lower()):
        initial["license"] = license.strip().lower()
    return initial


def _clean_tags(tags) -> list[str]:
    if isinstance(tags, str):
        tags = tags.split(",")
    cleaned = sorted({str(tag).strip().lower() for tag in tags or [] if str(tag).strip()})
    if len(cleaned) > MAX_TAGS or any(not TAG_PATTERN.fullmatch(tag) for tag in cleaned):
        raise InvalidInput(f"tags: at most {MAX_TAGS}, each 1-32 of a-z, 0-9 and '-'", param="tags")
    return cleaned


def save_listing(
    *,
    model: Model,
    by: User,
    title: str,
    summary: str = "",
    category: str = Category.GENERAL,
    tags=(),
    license: str = "other",
    is_downloadable: bool = False,
    revision: str = "main",
) -> Listing:
    """Create or update the listing of a model the caller owns. A published listing stays published; its
    new revision must be valid, checked the same way as publishing."""
    listing = get_editable_listing(model=model, by=by)
    title = (title or "").strip()
    if not 1 <= len(title) <= 120:
        raise InvalidInput("title must be 1-120 characters", param="title")
    if len(summary or "") > 300:
        raise InvalidInput("summary must be at most 300 characters", param="summary")
    if category not in Category.values:
        raise InvalidInput(f"category must be one of {', '.join(Category.values)}", param="category")
    license = (license or "").strip().lower()
    if not LICENSE_PATTERN.fullmatch(license):
        raise InvalidInput("license must be an SPDX-style id such as mit or apache-2.0", param="license")
    revision = (revision or "").strip()
    if not revision or len(revision) > 100:
        raise InvalidInput("revision must be a branch, a tag or a commit sha", param="revision")
    fields = {
        "title": title,
        "summary": (summary or "").strip(),
        "category": category,
        "tags": _clean_tags(tags),
        "license": license,
        "is_downloadable": bool(is_downloadable),
        "revision": revision,
    }
    with transaction.atomic():
        if listing is None:
            listing, changed = Listing(model=model, **fields), set(fields)
        else:
            listing = Listing.objects.select_for_update().get(pk=listing.pk)
            changed = {name for name, value in fields.items() if getattr(listing, name) != value}
            for name, value in fields.items():
                setattr(listing, name, value)
        if listing.status == ListingStatus.PUBLISHED:
            serves = served_commit(listing=listing)  # raises if the new revision cannot be served
            verdict = publish_gate.check(serves) if "revision" in changed else publish_gate.READY
            if not verdict.ready:  # a live listing moves only to an evaluated commit
                raise InvalidInput(verdict.reason, param="revision")
        listing.updated_at = timezone.now()
        listing.save()
        listing_stats.refresh_listing(listing)
    return listing


def set_prices(*, listing: Listing, by: User, prompt_price, completion_price, download_price="0") -> PriceCard:
    """Give the listing a new price card (credits per 1M tokens; per download). Old cards are kept."""
    if listing.model.owner_id != by.pk:
        raise NotFound(f"Repository not found: {listing.model.repo_id}")
    maximum = settings.MAX_PRICE_PER_MILLION_MICRO
    prices = {
        "prompt_price": parse_credits(prompt_price, param="prompt_price", maximum=maximum),
        "completion_price": parse_credits(completion_price, param="completion_price", maximum=maximum),
        "download_price": parse_credits(download_price or "0", param="download_price", maximum=maximum),
    }
    with transaction.atomic():
        locked = Listing.objects.select_for_update().get(pk=listing.pk)
        current = locked.price_card
        if current is not None and all(getattr(current, name) == value for name, value in prices.items()):
            return current
        card = PriceCard.objects.create(listing=locked, created_by=by, **prices)
        locked.price_card = card
        locked.updated_at = timezone.now()
        locked.save(update_fields=["price_card", "updated_at"])
        page_cache.changed()
    listing.price_card = card
    return card


def served_commit(*, listing: Listing) -> Commit:
    """The commit a listing serves (offers.servable_commit: a branch follows its newest valid commit; a tag or sha
    must be valid), refused in the listing's terms."""
    try:
        return offers.servable_commit(model=listing.model, revision=listing.revision)
    except RevisionNotFound:
        raise InvalidInput(f"revision '{listing.revision}' does not exist", param="revision") from None
    except offers.NotServable as exc:
        if exc.status is None:
            raise InvalidInput(f"branch '{listing.revision}' has no valid commit to offer", param="revision") from None
        raise InvalidInput(
            f"revision '{listing.revision}' is {exc.status}; only a valid revision can be published", param="revision"
        ) from None


def _check_publishable(listing: Listing) -> publish_gate.Verdict:
    """Refuses what the provider must fix; returns the gate's verdict on the served commit, READY or pending (its
    evaluation has not finished: the listing waits for it)."""
    if listing.model.is_private:
        raise InvalidInput("the model is private; make it public before publishing its listing", param="model")
    if listing.price_card is None:
        raise InvalidInput("set a price card before publishing (0 means free)", param="price_card")
    verdict = publish_gate.check(served_commit(listing=listing))
    if not verdict.ready and not verdict.pending:
        raise InvalidInput(verdict.reason, param="revision")
    return verdict


def _go_live(listing: Listing) -> None:
    """Published, or to review when REVIEW_LISTINGS is on (the row is saved by the caller)."""
    if settings.REVIEW_LISTINGS:
        listing.status = ListingStatus.PENDING_REVIEW
    else:
        listing.status = ListingStatus.PUBLISHED
        listing.published_at = timezone.now()
    listing.review_note = ""


def submit_listing(*, listing_id: int, by: User) -> Listing:
    """The provider asks to publish: straight to `published` when REVIEW_LISTINGS is off, else to review.
    A suspended listing can only come back through review."""
    with transaction.atomic():
        locked = Listing.objects.select_for_update(of=("self",)).select_related("model", "price_card")
        listing = locked.filter(pk=listing_id).first()
        if listing is None or listing.model.owner_id != by.pk:
            raise NotFound("no such listing")
        if listing.status in (ListingStatus.PUBLISHED, ListingStatus.PENDING_REVIEW):
            return listing
        if listing.status == ListingStatus.SUSPENDED and not settings.REVIEW_LISTINGS:
            raise Conflict(f"the listing is suspended: {listing.review_note}")
        verdict = _check_publishable(listing)
        was = listing.status
        if verdict.pending:  # goes live by itself when the evaluation succeeds (evaluation_finished)
            listing.status, listing.review_note = ListingStatus.EVALUATING, verdict.reason
        else:
            _go_live(listing)
        listing.updated_at = timezone.now()
        listing.save(update_fields=["status", "published_at", "review_note", "updated_at"])
        _announce(listing, was=was)
        page_cache.changed()
    return listing


def evaluation_finished(*, model_id: int) -> list[Listing]:
    """After an evaluation of one of the model's commits: a listing waiting for its evaluation goes live (or to
    review) when its served commit passes the gate now, and back to draft with the reason when it failed. Returns
    the listings that changed."""
    changed = []
    with transaction.atomic():
        waiting = Listing.objects.select_for_update(of=("self",)).select_related("model", "price_card")
        for listing in waiting.filter(model_id=model_id, status=ListingStatus.EVALUATING):
            try:
                verdict = _check_publishable(listing)
            except InvalidInput as exc:
                listing.status, listing.review_note = ListingStatus.DRAFT, f"Not published: {exc.message}"
            else:
                if verdict.pending:
                    continue
                _go_live(listing)
            listing.updated_at = timezone.now()
            listing.save(update_fields=["status", "published_at", "review_note", "updated_at"])
            _announce(listing, was=ListingStatus.EVALUATING)
            changed.append(listing)
        if changed:
            page_cache.changed()
    for listing in changed:
        live = listing.status != ListingStatus.DRAFT
        notifications.notify(
            user=listing.model.owner, link=f"/{listing.model.repo_id}/listing",
            kind=NotificationKind.LISTING_APPROVED if live else NotificationKind.LISTING_SUSPENDED,
            message=f"Your listing {listing.title} ({listing.model.repo_id}) is {listing.get_status_display()}"
            + ("." if live else f": {listing.review_note}"),
        )  # fmt: skip
    return changed


def _announce(listing: Listing, *, was: str) -> None:
    """The domain event of a listing that went live or was suspended, in the transaction that changed it: the one
    place both the provider's publish and the operator's review record it."""
    if listing.status == was or listing.status not in (ListingStatus.PUBLISHED, ListingStatus.SUSPENDED):
        return
    kind = "listing.published" if listing.status == ListingStatus.PUBLISHED else "listing.suspended"
    outbox.record(kind, listing_id=listing.pk, model=listing.model.repo_id, reason=listing.review_note)


def review_listing(*, listing_id: int, approve: bool, reason: str = "", by: User | None = None) -> Listing:
    """An operator's decision: approve (publish) or suspend with a reason the provider sees."""
    reason = (reason or "").strip()
    with transaction.atomic():
        listing = (
            Listing.objects.select_for_update(of=("self",)).select_related("model", "price_card").get(pk=listing_id)
        )
        was = listing.status
        if approve:
            verdict = _check_publishable(listing)
            if verdict.pending:
                raise InvalidInput(verdict.reason, param="revision")
            listing.status = ListingStatus.PUBLISHED
            listing.published_at = listing.published_at or timezone.now()
            listing.review_note = ""
        else:
            if not reason:
                raise InvalidInput("say why the listing is suspended; the provider will see it", param="reason")
            listing.status = ListingStatus.SUSPENDED
            listing.review_note = reason
        listing.reviewed_by = by
        listing.updated_at = timezone.now()
        listing.save(update_fields=["status", "published_at", "review_note", "reviewed_by", "updated_at"])
        _announce(listing, was=was)
        page_cache.changed()
    if by is not None:  # an operator decided (publish_now, the operator's own shortcut, needs no news)
        link = f"/{listing.model.repo_id}/listing"
        if approve:
            notifications.notify(user=listing.model.owner, kind=NotificationKind.LISTING_APPROVED, link=link,
                                 message=f"Your listing {listing.title} ({listing.model.repo_id}) is published.")  # fmt: skip
        else:
            notifications.notify(user=listing.model.owner, kind=NotificationKind.LISTING_SUSPENDED, link=link,
                                 message=f"Your listing {listing.title} ({listing.model.repo_id}) "
                                 f"{'was not approved' if was == ListingStatus.PENDING_REVIEW else 'is suspended'}: "
                                 f"{reason}")  # fmt: skip
    return listing


def unpublish_listing(*, listing_id: int, by: User) -> Listing:
    """The provider takes a listing off the store. A suspended listing stays suspended."""
    with transaction.atomic():
        listing = Listing.objects.select_for_update(of=("self",)).select_related("model").filter(pk=listing_id).first()
        if listing is None or listing.model.owner_id != by.pk:
            raise NotFound("no such listing")
        if listing.status in (ListingStatus.PUBLISHED, ListingStatus.PENDING_REVIEW, ListingStatus.EVALUATING):
            listing.status = ListingStatus.DRAFT
            listing.updated_at = timezone.now()
            listing.save(update_fields=["status", "updated_at"])
            page_cache.changed()
    return listing


def publish_now(
    *,
    model: Model,
    prompt_price,
    completion_price,
    download_price="0",
    revision: str | None = None,
    is_downloadable: bool | None = None,
    title: str | None = None,
) -> Listing:
    """The operator's shortcut: create or update the listing and publish it without review, evaluating the commit it
    will serve first if the store has not (publish_gate.prepare). All or nothing."""
    existing = Listing.objects.filter(model=model).first()
    with contextlib.suppress(RevisionNotFound, offers.NotServable):  # save_listing refuses it with the reason
        publish_gate.prepare(offers.servable_commit(model=model, revision=revision or (
            existing.revision if existing else "main")))  # fmt: skip
    with transaction.atomic():
        return _publish_now(model, prompt_price, completion_price, download_price, revision, is_downloadable, title)


def _publish_now(model, prompt_price, completion_price, download_price, revision, is_downloadable, title) -> Listing:
    owner = model.owner
    existing = Listing.objects.filter(model=model).first()
    listing = save_listing(
        model=model,
        by=owner,
        title=title or (existing.title if existing else model.repo_id),
        summary=existing.summary if existing else "",
        category=existing.category if existing else Category.GENERAL,
        tags=existing.tags if existing else (),
        license=existing.license if existing else "other",
        is_downloadable=is_downloadable if is_downloadable is not None else bool(existing and existing.is_downloadable),
        revision=revision or (existing.revision if existing else "main"),
    )
    set_prices(
        listing=listing,
        by=owner,
        prompt_price=prompt_price,
        completion_price=completion_price,
        download_price=download_price,
    )
    return review_listing(listing_id=listing.pk, approve=True, by=None)


def describe_price(card: PriceCard | None) -> str:
    if card is None:
        return "no price set"
    if card.is_free:
        text = "free"
    else:
        text = (
            f"{short_credits(card.prompt_price)} / {short_credits(card.completion_price)} credits per 1M "
            "prompt / completion tokens"
        )
    if card.download_price:
        text += f"; weights {short_credits(card.download_price)} credits per download (once per commit)"
    return text
