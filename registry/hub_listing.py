"""GET /api/models as HF Hub answers list_models: search, author, tag filters, sorts, and pages linked by a `Link`
header, over the models the caller may see."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import QueryDict

from accounts.models import User
from core.exceptions import InvalidInput
from core.json_input import has_control_characters
from registry import hub_metadata
from registry.hub import TRANSFORMERS_INFO, hub_time
from registry.models import DownloadDay, Model

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
MAX_FILTERS = 10
TRENDING_DAYS = 7
# HF Hub's sort keys -> the field each orders by; ties fall back to the newest id
SORTS = {"downloads": "downloads", "lastModified": "updated_at", "createdAt": "created_at", "trending": "trending",
         "trendingScore": "trending", "likes": "id", "id": "id"}  # fmt: skip
TRUE, FALSE = ("1", "true", "True"), ("0", "false", "False")


@dataclass(frozen=True)
class ModelQuery:
    search: str = ""
    author: str = ""
    tags: tuple[str, ...] = ()
    sort: str = ""
    descending: bool = True
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    full: bool = False
    card_data: bool = False
    config: bool = False


def parse(params: QueryDict) -> ModelQuery:
    """The query string, checked: a wrong parameter is InvalidInput naming it."""
    for name in ("search", "author", "filter"):
        if any(has_control_characters(value) or len(value) > 200 for value in params.getlist(name)):
            raise InvalidInput(f"{name} must be text of at most 200 characters, without control characters",
                               param=name)  # fmt: skip
    tags = tuple(dict.fromkeys(tag for value in params.getlist("filter") for tag in value.split(",") if tag))
    if len(tags) > MAX_FILTERS:
        raise InvalidInput(f"at most {MAX_FILTERS} filters", param="filter")
    sort = params.get("sort", "")
    if "sort" in params and sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)}", param="sort")
    for flag in ("full", "cardData", "config"):
        if params.get(flag, "false") not in TRUE + FALSE:
            raise InvalidInput(f"{flag} must be true or false", param=flag)
    direction = params.get("direction", "-1")
    if direction not in ("-1", "1"):
        raise InvalidInput("direction must be -1 (descending) or 1 (ascending)", param="direction")
    return ModelQuery(
        search=params.get("search", "").strip(), author=params.get("author", ""), tags=tags, sort=sort,
        descending=direction == "-1", limit=_integer(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        offset=_integer(params, "cursor", 0, 0, 10**9), full=params.get("full") in TRUE,
        card_data=params.get("cardData") in TRUE or params.get("full") in TRUE, config=params.get("config") in TRUE,
    )  # fmt: skip


def _integer(params: QueryDict, name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise InvalidInput(f"{name} must be an integer between {low} and {high}", param=name)
    return int(raw)


def _downloads_since(day: dt.date):
    days = DownloadDay.objects.filter(model=OuterRef("pk"), day__gte=day).values("model")
    return Coalesce(Subquery(days.annotate(total=Sum("count")).values("total")), Value(0), output_field=IntegerField())


def models(*, user: User | None, query: ModelQuery) -> tuple[list[Model], bool]:
    """One page of the models `user` may see, and whether there are more."""
    found: QuerySet[Model] = Model.objects.visible_to(user).select_related("owner").prefetch_related("tags")
    if query.author:
        found = found.filter(owner__username=query.author)
    if query.search:
        owner, slash, name = query.search.partition("/")
        found = found.filter(
            Q(owner__username__iendswith=owner, name__istartswith=name)
            if slash
            else Q(name__icontains=query.search) | Q(owner__username__icontains=query.search)
        )
    for tag in query.tags:
        found = found.filter(tags__name=tag)
    start = hub_metadata.window_start()
    found = found.annotate(downloads=_downloads_since(start),
                           trending=_downloads_since(start + dt.timedelta(days=30 - TRENDING_DAYS)))  # fmt: skip
    if query.sort:
        field = SORTS[query.sort]
        order = f"-{field}" if query.descending else field
        found = found.order_by(order, "-id" if query.descending else "id")
    page: list[Model] = list(found[query.offset : query.offset + query.limit + 1])
    return page[: query.limit], len(page) > query.limit


def model_json(model: Model, query: ModelQuery) -> dict:
    """One model of the list: HF Hub's short form, and with `full`, `cardData` or `config` what they add."""
    item = {
        "_id": f"model-{model.pk}", "id": model.repo_id, "modelId": model.repo_id, "author": model.owner.username,
        "private": model.is_private, "lastModified": hub_time(model.updated_at), "createdAt": hub_time(model.created_at),
        "library_name": "transformers", "pipeline_tag": hub_metadata.PIPELINE_TAG,
        "downloads": model.downloads, "trendingScore": model.trending, "likes": 0,  # type: ignore[attr-defined]
        "tags": sorted(tag.name for tag in model.tags.all()),
    }  # fmt: skip
    if query.full:
        item.update({"disabled": False, "transformersInfo": TRANSFORMERS_INFO})
    if query.card_data:
        item["cardData"] = model.card_data
    if query.config:
        item["config"] = model.config_summary
    return item
