"""JSON API of the wallet: credits (the OpenRouter shape) and usage reports."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core import json_input
from marketplace.api.serializers import CreditsResponseSerializer, EarningsResponseSerializer, UsageResponseSerializer
from marketplace.models import AccountKind, Payout
from marketplace.money import format_credits
from marketplace.services import ledger, reports

PERIOD = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="first day, UTC (default: 29 days before end)"),
    OpenApiParameter("end", OpenApiTypes.DATE, description="last day, UTC, inclusive (default: today)"),
]


def _period_and_grouping(request) -> tuple:
    json_input.no_blank(request.query_params, ("start", "end", "group_by"))
    period = reports.parse_period(request.query_params.get("start"), request.query_params.get("end"))
    return period, request.query_params.get("group_by") or "day"


class CreditsView(APIView):
    required_scope = ("read", "infer")  # as OpenRouter: a key that calls models may read its account's credits

    @extend_schema(responses=CreditsResponseSerializer)
    def get(self, request):
        summary = ledger.credit_summary(user=request.user)
        data = {
            "balance": format_credits(summary.balance),
            "total_credits": format_credits(summary.total_credits),
            "total_usage": format_credits(summary.total_usage),
        }
        return Response({"data": data})


def usage_rows(rows: list[dict]) -> list[dict]:
    """Rollup rows as the API shows them: decimal-string costs, `model` for the model label."""
    shown = []
    for row in rows:
        item = {name: value for name, value in row.items() if name not in ("model_label", "cost")}
        if "model_label" in row:
            item["model"] = row["model_label"]
        item["cost"] = format_credits(row["cost"])
        shown.append(item)
    return shown


class UsageView(APIView):
    required_scope = ("read", "infer")

    @extend_schema(
        parameters=[
            *PERIOD,
            OpenApiParameter("group_by", str, enum=list(reports.GROUPINGS), description="default: day"),
        ],
        responses=UsageResponseSerializer,
    )
    def get(self, request):
        period, group_by = _period_and_grouping(request)
        rows = reports.consumer_usage(user=request.user, period=period, group_by=group_by)
        return Response({"start": period.start, "end": period.end, "group_by": group_by, "data": usage_rows(rows)})


def money_fields(row: dict) -> dict:
    """Earnings figures as the API shows them: decimal-string amounts, `model` and `revision` for the labels."""
    shown = {}
    for name, value in row.items():
        if name == "model_label":
            shown["model"] = value
        elif name == "commit_sha":
            shown["revision"] = value
        elif name in reports.MONEY:
            shown[name] = format_credits(value or 0)
        else:
            shown[name] = value
    return shown


class EarningsView(APIView):
    """A provider's earnings: rows per day, model or revision, totals, the earnings balance and payouts."""

    required_scope = "read"

    @extend_schema(
        parameters=[
            *PERIOD,
            OpenApiParameter("group_by", str, enum=list(reports.EARNINGS_GROUPINGS), description="default: day"),
        ],
        responses=EarningsResponseSerializer,
    )
    def get(self, request):
        period, group_by = _period_and_grouping(request)
        rows, totals = reports.provider_earnings_by(provider=request.user, period=period, group_by=group_by)
        payouts = Payout.objects.filter(user=request.user).order_by("-requested_at", "-id")[:50]
        return Response({
            "start": period.start, "end": period.end, "group_by": group_by,
            "data": [money_fields(row) for row in rows],
            "totals": money_fields(totals),
            "balance": format_credits(ledger.account_for(request.user.pk, AccountKind.EARNINGS).balance),
            "payouts": [{"id": payout.pk, "amount": format_credits(payout.amount), "status": payout.status,
                         "requested_at": payout.requested_at, "paid_at": payout.paid_at} for payout in payouts],
        })  # fmt: skip
