"""What a provider's dashboard shows beyond its earnings rows: its listings, calls, tokens or earnings per day for each
of them (calls and tokens from all callers but the provider, paid or free; earnings are the provider's share of paid
calls and downloads), and who its consumers are, anonymised to ranks, counts and shares."""

import dataclasses
import datetime as dt

from django.db.models import F, QuerySet, Sum

from accounts.models import User
from marketplace.models import ConsumerUsageDaily, Listing, ProviderEarningsDaily
from marketplace.services.reports import Period

MAX_CHARTS = 10
TOP_CONSUMERS = 5
# What the per-listing charts can show: ?metric= on the dashboard, and how each is named.
METRICS = {"calls": "Calls", "tokens": "Tokens", "earnings": "Earnings"}


@dataclasses.dataclass
class ProviderDashboard:
    listings: list[Listing]  # each with calls_in_period
    metric: str  # one of METRICS
    per_listing: dict[str, list[tuple[dt.date, int]]]  # model label -> the metric per day of the period
    consumers: int  # how many distinct consumers called in the period
    top: list[dict]  # rank, requests, tokens, spend (micro-credits), share (% of the period's spend)


def provider_dashboard(*, provider: User, period: Period, metric: str = "calls") -> ProviderDashboard:
    """`metric` (calls, tokens or earnings; micro-credits for earnings) is what the per-listing series count."""
    if metric not in METRICS:
        metric = "calls"
    listings = list(
        Listing.objects.filter(model__owner=provider).select_related("model__owner", "price_card", "stats")
        .order_by("-updated_at")
    )  # fmt: skip
    labels = [listing.model.repo_id for listing in listings]
    usage = ConsumerUsageDaily.objects.filter(
        model_label__in=labels, day__gte=period.start, day__lte=period.end
    ).exclude(user=provider)
    calls = dict(usage.values("model_label").annotate(total=Sum("requests")).values_list("model_label", "total"))
    for listing in listings:
        listing.calls_in_period = calls.get(listing.model.repo_id, 0)
    found: QuerySet
    if metric == "earnings":
        found = ProviderEarningsDaily.objects.filter(
            provider=provider, model_label__in=labels, day__gte=period.start, day__lte=period.end
        ).annotate(value=F("earnings"))
    else:
        value = F("requests") if metric == "calls" else F("prompt_tokens") + F("completion_tokens")
        found = usage.annotate(value=value)
    per_day: dict[str, dict[dt.date, int]] = {}
    for row in found.values("model_label", "day").annotate(total=Sum("value")).order_by():
        per_day.setdefault(row["model_label"], {})[row["day"]] = row["total"]
    days = [period.start + dt.timedelta(days=n) for n in range((period.end - period.start).days + 1)]
    per_listing = {label: [(day, per_day[label].get(day, 0)) for day in days] for label in labels[:MAX_CHARTS]
                   if label in per_day}  # fmt: skip
    consumers = list(
        usage.values("user_id")
        .annotate(requests=Sum("requests"), tokens=Sum(F("prompt_tokens") + F("completion_tokens")), spend=Sum("cost"))
        .order_by("-spend", "-requests", "user_id")
    )
    total = sum(row["spend"] for row in consumers) or 0
    top = [{"rank": rank, "requests": row["requests"], "tokens": row["tokens"], "spend": row["spend"],
            "share": round(100 * row["spend"] / total) if total else 0}
           for rank, row in enumerate(consumers[:TOP_CONSUMERS], start=1)]  # fmt: skip
    return ProviderDashboard(
        listings=listings, metric=metric, per_listing=per_listing, consumers=len(consumers), top=top
    )
