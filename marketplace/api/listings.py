"""`GET /api/v1/listings`: the catalogue as JSON, with the page's filters, sorts and pages (the same query string)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ScopeRequired
from core import json_input
from marketplace.api.serializers import ListingsResponseSerializer
from marketplace.models import Category, Listing
from marketplace.models.listings import LICENSE_PATTERN, MAX_TAGS, TAG_PATTERN
from marketplace.money import credits_per_token, format_credits
from marketplace.services import catalogue

TEXT = {"type": "string", "pattern": "^[^\\x00]*$"}


def listing_json(listing: Listing) -> dict:
    stats = catalogue.stats_of(listing)
    card = listing.price_card
    return {
        "id": listing.model.repo_id,
        "title": listing.title,
        "summary": listing.summary,
        "provider": listing.model.owner.username,
        "category": listing.category,
        "tags": listing.tags,
        "license": listing.license,
        "downloadable": listing.is_downloadable,
        "created": int((listing.published_at or listing.created_at).timestamp()),
        "pricing": {
            "prompt": credits_per_token(card.prompt_price) if card else None,
            "completion": credits_per_token(card.completion_price) if card else None,
            "download": format_credits(card.download_price) if card else None,
        },
        "parameters": stats.parameters if stats else None,
        "context_length": stats.context_length if stats else None,
        "architecture": stats.architecture if stats else "",
        "base_model": stats.base_model if stats else "",
        "calls_7d": stats.calls_7d if stats else 0,
        "calls_30d": stats.calls_30d if stats else 0,
        "tokens_per_second": stats.tokens_per_second if stats else None,
        "rating": stats.rating if stats else None,
        "rating_count": stats.rating_count if stats else 0,
    }


def _page_link(request, number: int | None) -> str | None:
    if number is None:
        return None
    params = request.query_params.copy()
    params["page"] = str(number)
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")


CHOICES = ("category", "license", "access", "max_price", "params", "sort", "page", "tag")  # none may be blank


class ListingsView(APIView):
    permission_classes = [AllowAny, ScopeRequired]  # the catalogue is public; a key needs 'read' or 'infer'
    required_scope = ("read", "infer")

    @extend_schema(
        parameters=[
            OpenApiParameter("q", TEXT | {"maxLength": catalogue.MAX_QUERY_CHARS},
                             description="full-text search over name, summary, tags and card"),
            OpenApiParameter("category", str, enum=list(Category.values)),
            OpenApiParameter("tag", {"type": "array", "maxItems": MAX_TAGS,
                                     "items": {"type": "string", "pattern": TAG_PATTERN.pattern}},
                             description="repeat for several (all must match)"),
            OpenApiParameter("license", str, pattern=LICENSE_PATTERN.pattern),
            OpenApiParameter("access", str, enum=list(catalogue.ACCESS)),
            OpenApiParameter("max_price", str, pattern=r"^[0-9]{1,12}(\.[0-9]{1,6})?$",
                             description="credits per 1M tokens, prompt and completion alike"),
            OpenApiParameter("params", str, enum=list(catalogue.PARAMETER_BANDS)),
            OpenApiParameter("arch", TEXT | {"maxLength": 64}),
            OpenApiParameter("base", TEXT | {"maxLength": 200}, description="owner/name of a base model"),
            OpenApiParameter("sort", str, enum=list(catalogue.SORTS)),
            OpenApiParameter("page", {"type": "integer", "minimum": 1, "maximum": catalogue.MAX_PAGE}),
        ],
        responses=ListingsResponseSerializer,
    )  # fmt: skip
    def get(self, request):
        json_input.no_blank(request.query_params, CHOICES)  # the catalogue's form may; an API client may not
        query = catalogue.parse_query(request.query_params)
        paginator = catalogue.CardPaginator(catalogue.listings(query), catalogue.PAGE_SIZE)
        page = paginator.page(min(query.page, paginator.num_pages))
        return Response({
            "object": "list",
            "data": [listing_json(listing) for listing in page],
            "total": paginator.count,
            "page": page.number,
            "pages": paginator.num_pages,
            "sort": query.order,
            "next": _page_link(request, page.next_page_number() if page.has_next() else None),
            "previous": _page_link(request, page.previous_page_number() if page.has_previous() else None),
        })  # fmt: skip
