"""The model page's store panel: its listing and how to call or pull it. The page is the registry's; what the
store offers, and to whom, is the marketplace's.

    {% load store %}{% store_panel model commit is_owner as store %}
    {% include "marketplace/_listing_panel.html" %} ... {% include "marketplace/_use.html" %}
"""

from django import template

from marketplace.models import Listing, ListingStatus
from marketplace.services import catalogue, listing_stats, offers
from marketplace.services.listings import describe_price
from registry.models import Commit, Model, ValidationStatus

register = template.Library()


@register.simple_tag(takes_context=True)
def store_panel(context, model: Model, commit: Commit | None, is_owner: bool) -> dict:
    listing = _listing_shown(model, is_owner)
    return {"listing": listing, "stats": catalogue.stats_of(listing), "counted": listing_stats.counted_note(),
            "use": _how_to_use(context["request"], model, commit, listing, is_owner)}  # fmt: skip


def _listing_shown(model: Model, is_owner: bool) -> Listing | None:
    """The published listing for everyone, any state for its owner."""
    listings = Listing.objects.filter(model=model).select_related("price_card", "stats")
    listing = (listings if is_owner else listings.published()).first()
    if listing is not None:
        listing.price_text = describe_price(listing.price_card)
    return listing


def _how_to_use(request, model: Model, commit: Commit | None, listing: Listing | None, is_owner: bool) -> dict | None:
    """The playground and the copy-paste snippets, pinned to the commit shown. None when there is nothing to call:
    no valid commit, or someone else's model that is not published in the store."""
    if commit is None or commit.validation_status != ValidationStatus.VALID:
        return None
    published = listing is not None and listing.status == ListingStatus.PUBLISHED
    if not (is_owner or published):
        return None
    return {
        "model_id": f"{model.repo_id}@{commit.sha}",
        "base_url": request.build_absolute_uri("/").rstrip("/"),
        "downloadable": offers.weights_price(model=model, listing=listing, user=request.user) is not None,
        "free": is_owner or (listing is not None and listing.price_card is not None and listing.price_card.is_free),
    }
