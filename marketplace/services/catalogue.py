"""The catalogue: which published listings match a search, filters and a sort (the same for the web page and
`GET /api/v1/listings`), and the facts each listing is found by (ListingStats, written only here).

Search is PostgreSQL full text (a weighted tsvector in ListingStats.search_vector with a GIN index: name and
title weigh A, summary and tags B, the card C; ranked by ts_rank) and, on SQLite, a substring match of every word
with name matches first. Each filter narrows; every combination is a plain query string, so each is a shareable URL.
"""

import dataclasses
import logging
from collections.abc import Mapping

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When

from accounts.models import User
from core.exceptions import InvalidInput
from marketplace.models import Category, Listing, ListingStats
from marketplace.models.listings import LICENSE_PATTERN, MAX_TAGS, TAG_PATTERN
from marketplace.money import credits_per_token, parse_credits
from marketplace.services.listing_stats import SEARCH_CONFIG
from registry.models import Model

log = logging.getLogger(__name__)

PAGE_SIZE = 24
MAX_PAGE = 10_000
MAX_QUERY_CHARS = 200
FACETS_SECONDS = 60  # the licences and architectures a filter offers may lag a change by this long
MAX_QUERY_WORDS = 8  # the SQLite fallback ANDs one LIKE per word
SORTS = {
    "relevance": "best match",
    "trending": "trending (7 days)",
    "popular": "most used (30 days)",
    "newest": "newest",
    "cheapest": "cheapest",
    "fastest": "fastest (tokens/s)",
}
PARAMETER_BANDS = {
    "lt10m": ("under 10M", 0, 10_000_000),
    "10m-100m": ("10M–100M", 10_000_000, 100_000_000),
    "100m-1b": ("100M–1B", 100_000_000, 1_000_000_000),
    "gt1b": ("over 1B", 1_000_000_000, None),
}
ACCESS = {"download": "weights downloadable", "call": "call only"}


@dataclasses.dataclass(frozen=True)
class Query:
    """One catalogue request. `max_price` is micro-credits per 1M tokens, for prompt and completion alike."""

    q: str = ""
    category: str = ""
    tags: tuple[str, ...] = ()
    license: str = ""
    access: str = ""
    max_price: int | None = None
    params: str = ""
    arch: str = ""
    base: str = ""
    sort: str = ""
    page: int = 1

    @property
    def order(self) -> str:
        """The sort in force: the one asked for, else relevance with a search and trending without."""
        if self.sort and not (self.sort == "relevance" and not self.q):
            return self.sort
        return "relevance" if self.q else "trending"

    @property
    def active_filters(self) -> int:
        """How many filters narrow the results (the search box and the sort are not filters)."""
        chosen = (self.category, self.tags, self.license, self.access, self.params, self.arch, self.base)
        return sum(1 for value in chosen if value) + (self.max_price is not None)


def _one(params: Mapping, name: str) -> str:
    value = params.get(name, "")
    value = (value if isinstance(value, str) else str(value)).strip()
    if "\x00" in value:
        raise InvalidInput(f"{name} must not contain NUL characters", param=name)
    return value


def _tags(params: Mapping) -> tuple[str, ...]:
    raw = params.getlist("tag") if hasattr(params, "getlist") else params.get("tag", [])
    raw = [raw] if isinstance(raw, str) else list(raw)
    if any("\x00" in str(item) for item in raw):
        raise InvalidInput("tag must not contain NUL characters", param="tag")
    tags = sorted({part.strip().lower() for item in raw for part in str(item).split(",") if part.strip()})
    if len(tags) > MAX_TAGS or len(raw) > MAX_TAGS or any(not TAG_PATTERN.fullmatch(tag) for tag in tags):
        raise InvalidInput(f"tag: at most {MAX_TAGS}, each 1-32 of a-z, 0-9 and '-'", param="tag")
    return tuple(tags)


def parse_query(params: Mapping) -> Query:
    """A Query from a query string (a QueryDict or a plain mapping), or InvalidInput naming the bad parameter."""
    q = " ".join(_one(params, "q").split())
    if len(q) > MAX_QUERY_CHARS:
        raise InvalidInput(f"q: at most {MAX_QUERY_CHARS} characters", param="q")
    category = _one(params, "category")
    if category and category not in Category.values:
        raise InvalidInput(f"category must be one of {', '.join(Category.values)}", param="category")
    license = _one(params, "license").lower()
    if license and not LICENSE_PATTERN.fullmatch(license):
        raise InvalidInput("license must be an SPDX-style id such as mit or apache-2.0", param="license")
    access = _one(params, "access")
    if access and access not in ACCESS:
        raise InvalidInput(f"access must be one of {', '.join(ACCESS)}", param="access")
    raw_price = _one(params, "max_price")
    max_price = parse_credits(raw_price, param="max_price") if raw_price else None
    band = _one(params, "params")
    if band and band not in PARAMETER_BANDS:
        raise InvalidInput(f"params must be one of {', '.join(PARAMETER_BANDS)}", param="params")
    arch = _one(params, "arch")
    if len(arch) > 64:
        raise InvalidInput("arch: at most 64 characters", param="arch")
    base = _one(params, "base")
    if len(base) > 200:
        raise InvalidInput("base: at most 200 characters", param="base")
    sort = _one(params, "sort")
    if sort and sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)}", param="sort")
    raw_page = _one(params, "page") or "1"
    if not raw_page.isdigit() or not 1 <= int(raw_page) <= MAX_PAGE:
        raise InvalidInput("page must be a whole number from 1", param="page")
    return Query(q=q, category=category, tags=_tags(params), license=license, access=access, max_price=max_price,
                 params=band, arch=arch, base=base, sort=sort, page=int(raw_page))  # fmt: skip


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _search(found: QuerySet, q: str) -> QuerySet:
    if _is_postgres():
        query = SearchQuery(q, search_type="websearch", config=SEARCH_CONFIG)
        return found.filter(stats__search_vector=query).annotate(rank=SearchRank(F("stats__search_vector"), query))
    words = q.split()[:MAX_QUERY_WORDS]
    for word in words:
        found = found.filter(
            Q(title__icontains=word) | Q(model__name__icontains=word) | Q(model__owner__username__icontains=word)
            | Q(summary__icontains=word) | Q(stats__tags_text__icontains=word) | Q(stats__card_text__icontains=word)
        )  # fmt: skip
    named = Q()
    for word in words:
        named &= Q(title__icontains=word) | Q(model__name__icontains=word)
    return found.annotate(rank=Case(When(named, then=Value(2)), default=Value(1), output_field=IntegerField()))


ORDERS = {
    "relevance": ("-rank", "-stats__calls_30d", "-published_at", "-pk"),
    "trending": ("-stats__calls_7d", "-stats__calls_30d", "-published_at", "-pk"),
    "popular": ("-stats__calls_30d", "-published_at", "-pk"),
    "newest": ("-published_at", "-pk"),
    "cheapest": ("price_total", "-stats__calls_30d", "-pk"),
    "fastest": (F("stats__tokens_per_second").desc(nulls_last=True), "-pk"),
}


def _with_card_facts(found: QuerySet) -> QuerySet:
    """What a card shows in the same query; the wide columns no card shows stay behind."""
    return found.select_related("model__owner", "price_card", "stats").defer("stats__card_text", "stats__search_vector")


def listings(query: Query) -> QuerySet:
    """Published listings matching `query`, in its order, with what a card shows. Read a page of it with `cards`
    or `CardPaginator`, which sort on ids alone."""
    found: QuerySet = _with_card_facts(Listing.objects.published())
    if query.q:
        found = _search(found, query.q)
    if query.category:
        found = found.filter(category=query.category)
    for tag in query.tags:
        found = found.filter(stats__tags_text__contains=f" {tag} ")
    if query.license:
        found = found.filter(license=query.license)
    if query.access:
        found = found.filter(is_downloadable=query.access == "download")
    if query.max_price is not None:
        found = found.filter(price_card__prompt_price__lte=query.max_price,
                             price_card__completion_price__lte=query.max_price)  # fmt: skip
    if query.params:
        _, low, high = PARAMETER_BANDS[query.params]
        found = found.filter(stats__parameters__gte=low)
        if high is not None:
            found = found.filter(stats__parameters__lt=high)
    if query.arch:
        found = found.filter(stats__architecture=query.arch)
    if query.base:
        found = found.filter(stats__base_model=query.base)
    if query.order == "cheapest":
        found = found.annotate(price_total=F("price_card__prompt_price") + F("price_card__completion_price"))
    return found.order_by(*ORDERS[query.order])


def cards(found: QuerySet, start: int, stop: int) -> list[Listing]:
    """Rows `start`..`stop` of `found` with what a card shows, in two queries: the sort runs over narrow rows (ids
    and sort keys: 10,000 listings sort in a third of the time of whole rows, bench/pages.py), then only the
    page's rows are read whole."""
    ids = list(found.values_list("pk", flat=True)[start:stop])
    rows = _with_card_facts(Listing.objects.all()).in_bulk(ids)
    return [rows[pk] for pk in ids if pk in rows]


class CardPaginator(Paginator):
    """Django's Paginator over a catalogue query, reading each page through `cards`."""

    def __init__(self, found: QuerySet, per_page: int):
        super().__init__(found, per_page)
        self.found = found

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        return Page(cards(self.found, bottom, top), number, self)


def facets() -> dict[str, list[str]]:
    """The values the filters offer: licences and architectures of published listings."""
    published = Listing.objects.published().order_by()  # no default ordering: DISTINCT over the one column
    return {
        "licenses": list(published.values_list("license", flat=True).distinct().order_by("license")),
        "architectures": list(
            published.exclude(stats__architecture="").values_list("stats__architecture", flat=True).distinct()
            .order_by("stats__architecture")
        ),
    }  # fmt: skip


def listing_of(model: Model) -> Listing | None:
    try:
        return model.listing
    except Listing.DoesNotExist:
        return None


def stats_of(listing: Listing | None) -> ListingStats | None:
    try:
        return listing.stats if listing is not None else None
    except ListingStats.DoesNotExist:
        return None


def model_facts(model: Model, *, user: User) -> dict:
    """What /v1/models adds to a model, in OpenRouter's names: the price `user` pays in credits per token (decimal
    strings; the owner pays nothing), context length, architecture, description. The model comes from
    offers.callable_models, which fetched its listing, price card and stats with it."""
    listing = listing_of(model)
    stats = stats_of(listing)
    card = listing.price_card if listing is not None else None
    prices = (0, 0) if card is None or user.pk == model.owner_id else (card.prompt_price, card.completion_price)
    return {
        "name": listing.title if listing is not None else model.repo_id,
        "description": listing.summary if listing is not None else "",
        "context_length": stats.context_length if stats is not None else None,
        "architecture": {
            "modality": "text->text", "input_modalities": ["text"], "output_modalities": ["text"],
            "model_class": stats.architecture if stats is not None and stats.architecture else None,
        },
        "pricing": {
            "prompt": credits_per_token(prices[0]),
            "completion": credits_per_token(prices[1]),
        },
    }  # fmt: skip
