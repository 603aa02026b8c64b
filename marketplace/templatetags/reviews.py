"""The model page's reviews: who said what, the caller's own review, and whether they may write one.

{% load reviews %}{% reviews_panel model as panel %}{% include "marketplace/_reviews.html" %}
"""

from django import template

from marketplace.models import Listing, ListingStatus, ReportReason, Review
from marketplace.services import reviews
from registry.models import Model

register = template.Library()
SHOWN = 50


@register.simple_tag(takes_context=True)
def reviews_panel(context, model: Model, listing: Listing | None) -> dict:
    """`listing`: the model's listing as the store panel found it (None: none shown)."""
    user = context["request"].user
    shown = list(Review.objects.filter(model=model).select_related("user")[:SHOWN])
    mine = next((review for review in shown if review.user_id == user.pk), None)
    if mine is None and user.is_authenticated and len(shown) == SHOWN:
        mine = Review.objects.filter(model=model, user=user).first()
    return {
        "reviews": shown,
        "count": Review.objects.filter(model=model).count() if len(shown) == SHOWN else len(shown),
        "mine": mine,
        "may_review": reviews.may_review(model=model, user=user),
        "is_owner": user.is_authenticated and user.pk == model.owner_id,
        "listed": listing is not None and listing.status == ListingStatus.PUBLISHED,
        "reasons": ReportReason.choices,
        "stars": range(5, 0, -1),  # the form's choices, best first
        "star_slots": range(1, 6),  # a rating drawn left to right: 2 is ★★☆☆☆
    }
