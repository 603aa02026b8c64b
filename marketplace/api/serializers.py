from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from marketplace.services import reports


class CreditsSerializer(serializers.Serializer):
    balance = serializers.CharField(help_text="Credits in the wallet, as a decimal string.")
    total_credits = serializers.CharField(help_text="Credits bought, net of refunded top-ups.")
    total_usage = serializers.CharField(help_text="Credits spent on calls, net of refunds.")


# The answers' shapes, for the schema only (a field named `data` would shadow Serializer.data on a real one)
CreditsResponseSerializer = inline_serializer("CreditsResponse", fields={"data": CreditsSerializer()})


class UsageRowSerializer(serializers.Serializer):
    day = serializers.DateField(required=False)
    model = serializers.CharField(required=False)
    key_id = serializers.IntegerField(required=False)
    key_name = serializers.CharField(required=False)
    requests = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    cost = serializers.CharField()


UsageResponseSerializer = inline_serializer(
    "UsageResponse",
    fields={
        "start": serializers.DateField(),
        "end": serializers.DateField(),
        "group_by": serializers.ChoiceField(choices=list(reports.GROUPINGS)),
        "data": UsageRowSerializer(many=True),
    },
)


class ListingPricingSerializer(serializers.Serializer):
    prompt = serializers.CharField(allow_null=True, help_text="Credits per prompt token, a decimal string.")
    completion = serializers.CharField(allow_null=True, help_text="Credits per completion token, a decimal string.")
    download = serializers.CharField(allow_null=True, help_text="Credits per download of the weights.")


class ListingEntrySerializer(serializers.Serializer):
    id = serializers.CharField(help_text="owner/name")
    title = serializers.CharField()
    summary = serializers.CharField()
    provider = serializers.CharField()
    category = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    license = serializers.CharField()
    downloadable = serializers.BooleanField()
    created = serializers.IntegerField(help_text="When it was published, Unix seconds.")
    pricing = ListingPricingSerializer()
    parameters = serializers.IntegerField(allow_null=True)
    context_length = serializers.IntegerField(allow_null=True)
    architecture = serializers.CharField()
    base_model = serializers.CharField()
    calls_7d = serializers.IntegerField()
    calls_30d = serializers.IntegerField()
    tokens_per_second = serializers.FloatField(allow_null=True)
    rating = serializers.FloatField(allow_null=True)
    rating_count = serializers.IntegerField()


ListingsResponseSerializer = inline_serializer(
    "ListingsResponse",
    fields={
        "object": serializers.CharField(),
        "data": ListingEntrySerializer(many=True),
        "total": serializers.IntegerField(),
        "page": serializers.IntegerField(),
        "pages": serializers.IntegerField(),
        "sort": serializers.ChoiceField(choices=["relevance", "trending", "popular", "newest", "cheapest", "fastest"]),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
    },
)


class EarningsFiguresSerializer(serializers.Serializer):
    day = serializers.DateField(required=False)
    model = serializers.CharField(required=False)
    revision = serializers.CharField(required=False)
    requests = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    gross = serializers.CharField(help_text="What consumers paid, credits.")
    earnings = serializers.CharField(help_text="The provider's share, credits.")
    fee = serializers.CharField(help_text="The platform's fee, credits.")


class PayoutEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    amount = serializers.CharField()
    status = serializers.CharField()
    requested_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True)


EarningsResponseSerializer = inline_serializer(
    "EarningsResponse",
    fields={
        "start": serializers.DateField(),
        "end": serializers.DateField(),
        "group_by": serializers.ChoiceField(choices=list(reports.EARNINGS_GROUPINGS)),
        "data": EarningsFiguresSerializer(many=True),
        "totals": EarningsFiguresSerializer(),
        "balance": serializers.CharField(help_text="Earned and not paid out, credits."),
        "payouts": PayoutEntrySerializer(many=True),
    },
)
