"""Provider pages: earnings per listing and revision, payouts, and the listing editor with its price card."""

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.exceptions import DomainError
from marketplace.forms import ListingForm, PayoutForm
from marketplace.models import AccountKind, Payout
from marketplace.money import short_credits
from marketplace.services import dashboards, ledger, listings, reports
from marketplace.views.charts import daily_chart
from registry.exceptions import RepoNotFound
from registry.services import find_model

# How the per-listing charts of each dashboards.METRICS name their figures (earnings are in micro-credits).
NO_CALLS = "Nobody called your listings in this period."
CHART_WORDS = {
    "calls": {"caption": "Calls per day to ", "unit": "calls", "forms": "call,calls", "scale": 1, "empty": NO_CALLS},
    "tokens": {
        "caption": "Tokens per day to ",
        "unit": "tokens",
        "forms": "token,tokens",
        "scale": 1,
        "empty": NO_CALLS,
    },
    "earnings": {
        "caption": "Earnings per day from ",
        "unit": "credits",
        "scale": 1_000_000,
        "empty": "No paid calls in this period.",
    },
}


@login_required
@require_http_methods(["GET", "POST"])
def earnings(request):
    form = PayoutForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            payout = ledger.request_payout(user=request.user, amount=form.cleaned_data["amount"])
        except DomainError as exc:
            form.add_error("amount", exc.message)
        else:
            messages.success(request, f"Payout {payout.pk} of {short_credits(payout.amount)} credits requested.")
            return redirect("earnings")
    try:
        period = reports.parse_period(request.GET.get("start"), request.GET.get("end"))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("earnings")
    rows = reports.provider_earnings(provider=request.user, period=period)
    today = period.end
    dashboard = dashboards.provider_dashboard(
        provider=request.user, period=period, metric=request.GET.get("metric", "")
    )
    label = short_credits if dashboard.metric == "earnings" else (lambda value: f"{value:,}")
    context = {
        "dashboard": dashboard,
        "metrics": dashboards.METRICS,
        "chart_words": CHART_WORDS[dashboard.metric],
        "listing_charts": [
            (model, daily_chart(series, label=label)) for model, series in dashboard.per_listing.items()
        ],
        "ranges": [(days, today - dt.timedelta(days=days - 1)) for days in (30, 90)],
        "form": form,
        "period": period,
        "rows": rows,
        "chart": daily_chart(reports.daily_series(rows, period=period, value="earnings"), label=short_credits),
        "balance": ledger.account_for(request.user.pk, AccountKind.EARNINGS).balance,
        "payouts": Payout.objects.filter(user=request.user)[:50],
    }
    return render(request, "marketplace/earnings.html", context)


def _own_model(request, namespace: str, name: str):
    try:
        model = find_model(namespace=namespace, name=name, user=request.user)
    except RepoNotFound:
        raise Http404("No such model") from None
    if model.owner_id != request.user.pk:
        raise Http404("No such model")  # someone else's listing is not theirs to edit
    return model


def _initial(listing) -> dict:
    if listing is None:
        return {}
    card = listing.price_card
    initial = {name: getattr(listing, name) for name in ("title", "summary", "category", "license", "revision")}
    initial.update(tags=", ".join(listing.tags), is_downloadable=listing.is_downloadable)
    if card is not None:
        initial.update(
            prompt_price=short_credits(card.prompt_price),
            completion_price=short_credits(card.completion_price),
            download_price=short_credits(card.download_price),
        )
    return initial


@login_required
@require_http_methods(["GET", "POST"])
def edit_listing(request, namespace: str, name: str):
    model = _own_model(request, namespace, name)
    listing = listings.get_editable_listing(model=model, by=request.user)
    form = ListingForm(request.POST or None, initial=_initial(listing) or listings.defaults_from_card(model))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():  # the listing and its prices together, or neither
                saved = listings.save_listing(
                    model=model, by=request.user, title=data["title"], summary=data["summary"],
                    category=data["category"], tags=data["tags"], license=data["license"],
                    is_downloadable=data["is_downloadable"], revision=data["revision"],
                )  # fmt: skip
                listings.set_prices(
                    listing=saved, by=request.user, prompt_price=data["prompt_price"],
                    completion_price=data["completion_price"], download_price=data["download_price"],
                )  # fmt: skip
        except DomainError as exc:
            form.add_error(exc.param if exc.param in form.fields else None, exc.message)
        else:
            messages.success(request, "Listing saved.")
            return redirect("listing-edit", namespace=namespace, name=name)
    context = {
        "model": model,
        "listing": listing,
        "form": form,
        "price": listings.describe_price(listing.price_card if listing else None),
        "fee_percent": settings.PLATFORM_FEE_PERCENT,
    }
    return render(request, "marketplace/listing_edit.html", context)


@login_required
@require_POST
def publish_listing(request, namespace: str, name: str):
    model = _own_model(request, namespace, name)
    listing = listings.get_editable_listing(model=model, by=request.user)
    if listing is None:
        raise Http404("No listing yet")
    try:
        if request.POST.get("action") == "unpublish":
            listings.unpublish_listing(listing_id=listing.pk, by=request.user)
            messages.success(request, "The listing is a draft again.")
        else:
            listing = listings.submit_listing(listing_id=listing.pk, by=request.user)
            messages.success(request, f"The listing is {listing.get_status_display().lower()}.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("listing-edit", namespace=namespace, name=name)
