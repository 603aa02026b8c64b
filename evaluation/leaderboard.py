"""The leaderboard: published listings ranked by what the store measured of the commit each serves, on the current
standard set (verified results only; a listing whose served commit has none is not on it). Sorted by any column,
filtered by size band and by downloadable weights. The page (/leaderboard) and its JSON twin (/api/v1/leaderboard)
share `parse` and `rows`."""

import dataclasses

from django.db.models import OuterRef, Subquery

from core.exceptions import InvalidInput
from evaluation import standard_set
from evaluation.models import Evaluation, EvaluationStatus
from marketplace.models import Listing
from marketplace.money import format_credits
from marketplace.services.catalogue import PARAMETER_BANDS

# column -> (label, how a row sorts by it, the natural order: True when smaller is better)
COLUMNS = {
    "bits_per_byte": ("Bits per byte", lambda row: row.bits_per_byte, True),
    "perplexity": ("Perplexity", lambda row: row.perplexity, True),
    "speed": ("Tokens/s", lambda row: row.tokens_per_second, False),
    "parameters": ("Parameters", lambda row: row.parameters, True),
    "price": ("Credits / 1M tokens", lambda row: row.price_sum, True),
}
LIMIT = 500


@dataclasses.dataclass(frozen=True)
class Query:
    sort: str = "bits_per_byte"
    descending: bool = False
    band: str = ""
    downloadable: bool = False

    def link(self, sort: str) -> str:
        """The query string that sorts by `sort`: its natural order first, the other order when it is the current one."""
        natural_descending = not COLUMNS[sort][2]
        descending = not self.descending if sort == self.sort else natural_descending
        parts = [f"sort={sort}", f"order={'desc' if descending else 'asc'}"]
        parts += [f"params={self.band}"] if self.band else []
        parts += ["downloadable=1"] if self.downloadable else []
        return "?" + "&".join(parts)


@dataclasses.dataclass(frozen=True)
class Row:
    listing: Listing
    evaluation: Evaluation

    @property
    def bits_per_byte(self) -> float:
        return self.evaluation.metrics["bits_per_byte"]

    @property
    def perplexity(self) -> float:
        return self.evaluation.metrics["perplexity"]

    @property
    def tokens_per_second(self) -> float:
        return self.evaluation.metrics.get("tokens_per_second_b1", 0.0)

    @property
    def parameters(self) -> int:
        return self.evaluation.metrics.get("parameters", 0)

    @property
    def price_sum(self) -> int:
        card = self.listing.price_card
        return card.prompt_price + card.completion_price if card else 0


def parse(params) -> Query:
    sort = params.get("sort") or "bits_per_byte"
    if sort not in COLUMNS:
        raise InvalidInput(f"sort must be one of {', '.join(COLUMNS)}", param="sort")
    order = params.get("order") or ("asc" if COLUMNS[sort][2] else "desc")
    if order not in ("asc", "desc"):
        raise InvalidInput("order must be asc or desc", param="order")
    band = params.get("params") or ""
    if band and band not in PARAMETER_BANDS:
        raise InvalidInput(f"params must be one of {', '.join(PARAMETER_BANDS)}", param="params")
    downloadable = params.get("downloadable") or ""
    if downloadable not in ("", "0", "1"):
        raise InvalidInput("downloadable must be 1 or 0", param="downloadable")
    return Query(sort=sort, descending=order == "desc", band=band, downloadable=downloadable == "1")


def rows(query: Query) -> list[Row]:
    """Two queries: the published listings with the id of their served commit's result, then those results."""
    current = standard_set.load()
    result = Evaluation.objects.standard(current).filter(status=EvaluationStatus.SUCCEEDED, verified=True,
                                                         commit__sha=OuterRef("stats__commit_sha"))  # fmt: skip
    listings = (Listing.objects.published().select_related("model__owner", "price_card", "stats")
                .annotate(result_id=Subquery(result.values("pk")[:1])).filter(result_id__isnull=False))  # fmt: skip
    if query.downloadable:
        listings = listings.filter(is_downloadable=True)
    chosen = list(listings[:LIMIT])
    results = Evaluation.objects.select_related("commit").in_bulk([listing.result_id for listing in chosen])
    found = [Row(listing, results[listing.result_id]) for listing in chosen]
    if query.band:
        _, low, high = PARAMETER_BANDS[query.band]
        found = [row for row in found if row.parameters >= low and (high is None or row.parameters < high)]
    key = COLUMNS[query.sort][1]
    return sorted(found, key=lambda row: (key(row), row.listing.model.repo_id), reverse=query.descending)


def row_json(row: Row) -> dict:
    card = row.listing.price_card
    return {
        "id": row.listing.model.repo_id,
        "title": row.listing.title,
        "commit": row.evaluation.commit.sha,
        "dataset": row.evaluation.dataset,
        "device": row.evaluation.device,
        "verified": True,
        "bits_per_byte": row.bits_per_byte,
        "perplexity": row.perplexity,
        "tokens_per_second": row.tokens_per_second,
        "tokens_per_second_b8": row.evaluation.metrics.get("tokens_per_second_b8"),
        "parameters": row.parameters,
        "downloadable": row.listing.is_downloadable,
        "pricing": {
            "prompt_per_1m": format_credits(card.prompt_price) if card else None,
            "completion_per_1m": format_credits(card.completion_price) if card else None,
        },
    }
