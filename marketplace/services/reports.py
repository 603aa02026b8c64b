"""Usage and earnings reports, read from the daily rollups (never from raw usage records)."""

import dataclasses
import datetime as dt

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from accounts.models import ApiKey, User
from core.exceptions import InvalidInput
from marketplace.models import ConsumerUsageDaily, ProviderEarningsDaily
from marketplace.services.limits import spend_counter

GROUPINGS = ("day", "model", "key")
MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30


@dataclasses.dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive


EARLIEST_DAY, LATEST_DAY = dt.date(1970, 1, 1), dt.date(9999, 1, 1)  # room for the default range's arithmetic


def parse_period(start: str | None, end: str | None) -> Period:
    """`start`/`end` as YYYY-MM-DD (inclusive, UTC); by default the last 30 days up to today."""
    today = timezone.now().date()

    def parse(raw: str | None, param: str, default: dt.date) -> dt.date:
        if not raw:
            return default
        try:
            day = dt.date.fromisoformat(raw)
        except (TypeError, ValueError):
            raise InvalidInput(f"{param} must be a date like 2026-11-24, got {raw!r}", param=param) from None
        if not EARLIEST_DAY <= day <= LATEST_DAY:
            raise InvalidInput(f"{param} must be between {EARLIEST_DAY} and {LATEST_DAY}", param=param)
        return day

    end_day = parse(end, "end", today)
    start_day = parse(start, "start", end_day - dt.timedelta(days=DEFAULT_RANGE_DAYS - 1))
    if start_day > end_day:
        raise InvalidInput("start must not be after end", param="start")
    if (end_day - start_day).days >= MAX_RANGE_DAYS:
        raise InvalidInput(f"a report covers at most {MAX_RANGE_DAYS} days", param="start")
    return Period(start=start_day, end=end_day)


def consumer_usage(*, user: User, period: Period, group_by: str) -> list[dict]:
    """Requests, tokens and cost per day, model or key, oldest or largest first."""
    if group_by not in GROUPINGS:
        raise InvalidInput(f"group_by must be one of {', '.join(GROUPINGS)}", param="group_by")
    column = {"day": "day", "model": "model_label", "key": "key_id"}[group_by]
    rows = (
        ConsumerUsageDaily.objects.filter(user=user, day__gte=period.start, day__lte=period.end)
        .values(column)
        .annotate(
            requests=Sum("requests"),
            prompt_tokens=Sum("prompt_tokens"),
            completion_tokens=Sum("completion_tokens"),
            cost=Sum("cost"),
        )
        .order_by(column if group_by == "day" else "-cost", column)
    )
    rows = list(rows)
    if group_by == "key":
        names = dict(ApiKey.objects.filter(user=user).values_list("pk", "name"))
        for row in rows:
            row["key_name"] = names.get(row["key_id"], "browser session" if row["key_id"] == 0 else "deleted key")
    return rows


EARNINGS_GROUPINGS = {"day": ("day",), "model": ("model_label",), "revision": ("model_label", "commit_sha")}
MONEY = ("gross", "earnings", "fee")


def _earnings(provider: User, period: Period) -> QuerySet:
    return ProviderEarningsDaily.objects.filter(provider=provider, day__gte=period.start, day__lte=period.end)


def _earnings_sums() -> dict:
    return {name: Sum(name) for name in ("requests", "prompt_tokens", "completion_tokens", *MONEY)}


def provider_earnings(*, provider: User, period: Period) -> list[dict]:
    """Per day, model and revision: requests, tokens, gross, the provider's earnings and the fee."""
    columns = ("day", "model_label", "commit_sha")
    return list(_earnings(provider, period).values(*columns).annotate(**_earnings_sums()).order_by(*columns))


def provider_earnings_by(*, provider: User, period: Period, group_by: str) -> tuple[list[dict], dict]:
    """(rows grouped by day, model or revision; totals over the period) of a provider's earnings."""
    if group_by not in EARNINGS_GROUPINGS:
        raise InvalidInput(f"group_by must be one of {', '.join(EARNINGS_GROUPINGS)}", param="group_by")
    columns = EARNINGS_GROUPINGS[group_by]
    found = _earnings(provider, period)
    rows = list(found.values(*columns).annotate(**_earnings_sums()).order_by(*columns))
    totals = {name: value or 0 for name, value in found.aggregate(**_earnings_sums()).items()}
    return rows, totals


def daily_series(rows: list[dict], *, period: Period, value: str) -> list[tuple[dt.date, int]]:
    """Totals of `value` for every day of the period, zero where nothing happened (for charts)."""
    totals: dict[dt.date, int] = {}
    for row in rows:
        totals[row["day"]] = totals.get(row["day"], 0) + row[value]
    days = (period.end - period.start).days + 1
    return [
        (period.start + dt.timedelta(days=n), totals.get(period.start + dt.timedelta(days=n), 0)) for n in range(days)
    ]


def keys_spend(*, api_keys: list[ApiKey], now: dt.datetime | None = None) -> dict[int, int]:
    """What each of one user's keys spent in its current spend period, from the daily rollups (settled calls and
    paid downloads), in one query: a filtered sum per key, since each has its own period."""
    if not api_keys:
        return {}
    now = now or timezone.now()
    columns = {}
    for api_key in api_keys:
        _, start, _ = spend_counter(key_id=api_key.pk, period=api_key.spend_period, now=now)
        in_period = Q(key_id=api_key.pk) & (Q(day__gte=start.date()) if start is not None else Q())
        columns[f"key_{api_key.pk}"] = Sum("cost", filter=in_period, default=0)
    totals = ConsumerUsageDaily.objects.filter(user_id=api_keys[0].user_id).aggregate(**columns)
    return {api_key.pk: totals[f"key_{api_key.pk}"] for api_key in api_keys}
