"""The storefront: the home page and the catalogue (search, filters, sorts, pages), plain GET forms and links."""

from django.db.models import Sum
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.models import User
from core.exceptions import InvalidInput
from marketplace.models import Category
from marketplace.services import catalogue, demo_model, listing_stats
from registry import page_cache

HOME_ROW = 6


@require_GET
def home(request):
    def body() -> str:
        trending = catalogue.listings(catalogue.Query(sort="trending"))
        context = {
            "featured": catalogue.cards(trending.filter(featured=True), 0, HOME_ROW),
            "trending": catalogue.cards(trending, 0, HOME_ROW),
            "newest": catalogue.cards(catalogue.listings(catalogue.Query(sort="newest")), 0, HOME_ROW),
            "categories": Category.choices,
        }
        return render_to_string("marketplace/_home_body.html", context, request=request)

    building = demo_model.progress()  # the demo model's first build (make run), shown until it is published
    context = {"body": page_cache.cached("home", "", body),
               "demo": building if building and building["state"] != "published" else None}  # fmt: skip
    return render(request, "marketplace/home.html", context)


@require_GET
def models(request):
    """The catalogue. Its body is the same for everyone with the same query string, so it is cached until any
    listing changes (page_cache.cached); the header around it is the caller's."""
    status, error = 200, None
    try:
        query = catalogue.parse_query(request.GET)
    except InvalidInput as exc:
        status, error, query = 400, exc, catalogue.Query()

    def body() -> str:
        context = {
            "page": catalogue.CardPaginator(catalogue.listings(query), catalogue.PAGE_SIZE).get_page(query.page),
            "query": query,
            "error": error,
            "facets": page_cache.cached("facets", "", catalogue.facets, seconds=catalogue.FACETS_SECONDS),
            "sorts": catalogue.SORTS,
            "bands": {key: label for key, (label, _, _) in catalogue.PARAMETER_BANDS.items()},
            "access": catalogue.ACCESS,
            "categories": Category.choices,
            "counted": listing_stats.counted_note(),
        }
        return render_to_string("marketplace/_catalogue_body.html", context, request=request)

    html = body() if error else page_cache.cached("models", request.GET.urlencode(), body)
    return render(request, "marketplace/catalogue.html", {"body": html, "query": query}, status=status)


@require_GET
def search(request):
    """/search?q=… is the catalogue's search: the same query string on /models."""
    query = request.GET.urlencode()
    return redirect(reverse("catalogue") + (f"?{query}" if query else ""))


@require_GET
def provider_profile(request, namespace: str):
    """/{namespace}: a provider's published listings, their calls in 30 days and when it joined."""
    provider = User.objects.filter(username=namespace, is_active=True).first()
    if provider is None:
        raise Http404("No such provider")
    found = catalogue.listings(catalogue.Query(sort="popular")).filter(model__owner=provider)
    page = catalogue.CardPaginator(found, catalogue.PAGE_SIZE).get_page(request.GET.get("page"))
    calls = found.aggregate(calls=Sum("stats__calls_30d"))["calls"] or 0
    return render(request, "marketplace/provider.html", {"provider": provider, "page": page, "calls_30d": calls})
